"""A local livekit-server for development and tests (``theo livekit dev``, ``tests/livekit``).

:class:`LocalLiveKit` reads ``livekit.yaml`` (repo root), overrides what the caller asks for (ports, keys)
so tests can run on free loopback ports, writes the result to a temporary config file, starts the
binary, waits until its HTTP port answers, and stops it with SIGTERM (a second SIGTERM skips
livekit-server's wait for participants to leave, then SIGKILL).

The binary is the one ``scripts/setup --dev`` builds from its Go module into ``.tools/bin/`` (pinned,
cached per version outside the checkout by ``scripts/install-livekit``); otherwise ``livekit-server`` on
PATH; ``THEO_LIVEKIT_SERVER`` names one explicitly.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import httpx
import yaml

from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

logger = logging.getLogger("theo.livekit")

REPO = Path(__file__).resolve().parents[3]
DEFAULT_CONFIG = REPO / "livekit.yaml"
TOOLS_BINARY = REPO / ".tools" / "bin" / "livekit-server"
PINNED_VERSION = "1.13.5"
"""The version ``scripts/install-livekit`` builds; docker-compose.yml runs the same image tag."""


def find_livekit_server() -> Path:
    """``$THEO_LIVEKIT_SERVER``, else ``.tools/bin/livekit-server``, else ``livekit-server`` on PATH."""
    explicit = os.environ.get("THEO_LIVEKIT_SERVER")
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LiveKitError(f"THEO_LIVEKIT_SERVER={explicit} is not an executable file")
        return path
    if TOOLS_BINARY.is_file() and os.access(TOOLS_BINARY, os.X_OK):
        return TOOLS_BINARY
    on_path = shutil.which("livekit-server")
    if on_path:
        return Path(on_path)
    raise LiveKitError(
        "livekit-server not found (looked in .tools/bin/ and on PATH): run `scripts/setup --dev`, which "
        f"builds livekit-server v{PINNED_VERSION} from its Go module (needs `go`), or put a "
        "livekit-server binary on PATH"
    )


def server_version(binary: Path) -> str:
    """``livekit-server --version`` prints ``livekit-server version 1.13.5``."""
    out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30).stdout
    return out.strip().rsplit(" ", 1)[-1] if out.strip() else "unknown"


def free_tcp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_udp_range(
    count: int, host: str = "127.0.0.1", low: int = 40000, high: int = 60000
) -> tuple[int, int]:
    """``count`` consecutive UDP ports on ``host`` that are free right now (inclusive range)."""
    for _ in range(200):
        start = random.randrange(low, high - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(start, start + count):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                sockets.append(s)
                s.bind((host, port))
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
        return start, start + count - 1
    raise LiveKitError(f"no {count} consecutive free UDP ports on {host} between {low} and {high}")


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def load_config(path: Path = DEFAULT_CONFIG) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise LiveKitError(f"LiveKit config {path} not found") from None
    except yaml.YAMLError as exc:
        raise LiveKitError(f"LiveKit config {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LiveKitError(f"LiveKit config {path} is not a YAML mapping")
    return data


def log_tail(path: Path | None, lines: int = 15) -> str:
    """The last lines of a server's log, to append to an error (``":\n..."``, or "" when there is none)."""
    if path is None or not path.exists():
        return ""
    text = path.read_text(errors="replace").splitlines()[-lines:]
    return ":\n" + "\n".join(text) if text else ""


class LocalLiveKit:
    """One livekit-server process on this machine, configured from ``livekit.yaml``.

    ``port``, ``rtc_tcp_port`` (0 turns ICE/TCP off), ``udp_port_range`` (inclusive),
    ``api_key``/``api_secret`` (replacing the file's keys) and ``redis_address`` (``host:port``; LiveKit
    SIP needs the server on Redis) override the file; ``None`` keeps its value.
    ``log_path`` receives the server's output; ``None`` leaves it on this process's stdout/stderr.
    """

    def __init__(
        self,
        config: Path = DEFAULT_CONFIG,
        *,
        port: int | None = None,
        rtc_tcp_port: int | None = None,
        udp_port_range: tuple[int, int] | None = None,
        api_key: str | None = None,
        api_secret: str | None = None,
        binary: Path | None = None,
        log_path: Path | None = None,
        redis_address: str | None = None,
    ) -> None:
        if (api_key is None) != (api_secret is None):
            raise ValueError("api_key and api_secret go together")
        self.config_path = config
        self.binary = binary
        self.log_path = log_path
        self.config = self._derive(
            load_config(config), port, rtc_tcp_port, udp_port_range, api_key, api_secret
        )
        if redis_address is not None:
            self.config["redis"] = {"address": redis_address}
        self.process: subprocess.Popen[bytes] | None = None
        self._workdir: Path | None = None
        self._log: IO[bytes] | None = None

    @staticmethod
    def _derive(
        base: dict[str, Any],
        port: int | None,
        rtc_tcp_port: int | None,
        udp_port_range: tuple[int, int] | None,
        api_key: str | None,
        api_secret: str | None,
    ) -> dict[str, Any]:
        config = copy.deepcopy(base)
        rtc = config.setdefault("rtc", {})
        if port is not None:
            config["port"] = port
        if rtc_tcp_port is not None:
            rtc["tcp_port"] = rtc_tcp_port
        if udp_port_range is not None:
            rtc["port_range_start"], rtc["port_range_end"] = udp_port_range
            rtc.pop("udp_port", None)  # a UDP mux would take precedence over the range otherwise
        if api_key is not None:
            config["keys"] = {api_key: api_secret}
        keys = config.get("keys")
        if not isinstance(keys, dict) or not keys:
            raise LiveKitError("the LiveKit config has no `keys` (API key: secret pairs)")
        return config

    # --- what clients need -------------------------------------------------------------------------

    @property
    def host(self) -> str:
        binds = self.config.get("bind_addresses") or []
        host = str(binds[0]) if binds else "127.0.0.1"
        return "127.0.0.1" if host in ("", "0.0.0.0") else host

    @property
    def port(self) -> int:
        return int(self.config.get("port", 7880))

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_key(self) -> str:
        return str(next(iter(self.config["keys"])))

    @property
    def api_secret(self) -> str:
        return str(self.config["keys"][self.api_key])

    @property
    def settings(self) -> LiveKitSettings:
        return LiveKitSettings(url=self.url, api_key=self.api_key, api_secret=self.api_secret)

    @property
    def rtc_tcp_port(self) -> int:
        return int(self.config.get("rtc", {}).get("tcp_port") or 0)

    @property
    def udp_port_range(self) -> tuple[int, int] | None:
        rtc = self.config.get("rtc", {})
        if rtc.get("port_range_start") and rtc.get("port_range_end"):
            return int(rtc["port_range_start"]), int(rtc["port_range_end"])
        return None

    # --- lifecycle ---------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 30.0) -> LocalLiveKit:
        """Start the server (again, after :meth:`stop`: same ports, same keys) and wait until it answers."""
        if self.running:
            raise RuntimeError("already started")
        binary = self.binary or find_livekit_server()
        if not _port_is_free(self.host, self.port):
            raise LiveKitError(
                f"{self.host}:{self.port} is already in use (another livekit-server?); stop it or pick "
                "another port"
            )
        self._workdir = Path(tempfile.mkdtemp(prefix="theo-livekit-"))
        config_file = self._workdir / "livekit.yaml"
        config_file.write_text(yaml.safe_dump(self.config, sort_keys=False))
        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        from theo_rtc.workers.protocol import exit_with_parent

        logger.info("starting %s --config %s", binary, config_file)
        self.process = subprocess.Popen(
            [str(binary), "--config", str(config_file)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            cwd=self._workdir,
            start_new_session=True,  # our signals, not the terminal's, decide how it stops
            preexec_fn=exit_with_parent,  # never outlives us, even if we are SIGKILLed
        )
        try:
            self._wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0) as client:
            while True:
                code = self.process.poll()
                if code is not None:
                    raise LiveKitError(
                        f"livekit-server exited with code {code} before it was ready{self._tail()}"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(self.http_url + "/").status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise LiveKitError(
                        f"livekit-server did not answer on {self.http_url} within {timeout:.0f} s"
                    )
                time.sleep(0.1)

    def _tail(self) -> str:
        return log_tail(self.log_path)

    def wait(self, timeout: float | None = None) -> int:
        """Block until the server exits; its exit code."""
        if self.process is None:
            raise RuntimeError("not started")
        return self.process.wait(timeout)

    def stop(self, timeout: float = 5.0) -> int | None:
        """SIGTERM (livekit-server waits for participants to leave), a second SIGTERM after ``timeout``
        (it stops at once), SIGKILL after another ``timeout``. Its exit code."""
        code: int | None = None
        process = self.process
        if process is not None:
            for sig in (signal.SIGTERM, signal.SIGTERM, signal.SIGKILL):
                if process.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout)
            code = process.wait()
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code

    def __enter__(self) -> LocalLiveKit:
        return self.start() if self.process is None else self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
