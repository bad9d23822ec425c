"""Phone calls on this machine: Redis + livekit-server + LiveKit SIP (`theo livekit dev --sip`, tests/sip).

:class:`LocalTelephony` starts, in order, a Redis without persistence on a loopback port, a
:class:`~theo_rtc.transports.livekit.devserver.LocalLiveKit` configured with that Redis (LiveKit's SIP APIs
fail without one), and ``livekit-sip`` configured from ``livekit-sip.yaml`` (repo root) with the server's
URL and keys, the same Redis, and the SIP port and RTP range asked for. It stops them in the
reverse order.

``livekit-sip`` is the binary ``scripts/install-livekit-sip`` builds into ``.tools/bin/`` (else on PATH;
``THEO_LIVEKIT_SIP`` names one); ``redis-server`` comes from the system (``THEO_REDIS_SERVER``).
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import yaml

from theo_rtc.transports.livekit.devserver import (
    DEFAULT_CONFIG,
    REPO,
    LocalLiveKit,
    free_tcp_port,
    load_config,
    log_tail,
)
from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

logger = logging.getLogger("theo.livekit")

DEFAULT_SIP_CONFIG = REPO / "livekit-sip.yaml"
PINNED_SIP_VERSION = "v1.0.0"
"""The github.com/livekit/sip tag ``scripts/install-livekit-sip`` builds (it reports itself as 0.0.1)."""


def find_binary(name: str, env_var: str, hint: str) -> Path:
    """``$env_var``, else ``.tools/bin/<name>``, else ``name`` on PATH."""
    explicit = os.environ.get(env_var)
    if explicit:
        path = Path(explicit)
        if not (path.is_file() and os.access(path, os.X_OK)):
            raise LiveKitError(f"{env_var}={explicit} is not an executable file")
        return path
    tools = REPO / ".tools" / "bin" / name
    if tools.is_file() and os.access(tools, os.X_OK):
        return tools
    on_path = shutil.which(name)
    if on_path:
        return Path(on_path)
    raise LiveKitError(f"{name} not found (looked in .tools/bin/ and on PATH): {hint}")


def find_livekit_sip() -> Path:
    return find_binary(
        "livekit-sip",
        "THEO_LIVEKIT_SIP",
        f"run `scripts/setup --dev`, which builds livekit-sip {PINNED_SIP_VERSION} from its Go module",
    )


def find_redis_server() -> Path:
    return find_binary(
        "redis-server", "THEO_REDIS_SERVER", "install Redis (Debian: apt-get install redis-server)"
    )


class _Child:
    """One service process: started in its own session with its output in a log, stopped by signals."""

    def __init__(self, name: str, log_path: Path | None) -> None:
        self.name = name
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, args: list[str], cwd: Path) -> None:
        from theo_rtc.workers.protocol import exit_with_parent

        if self.log_path is not None:
            self.log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log = self.log_path.open("ab")
        logger.info("starting %s", " ".join(args))
        self.process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT if self._log is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=exit_with_parent,  # never outlives us, even if we are SIGKILLed
        )

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise LiveKitError(f"{self.name} exited with code {code} before it was ready{self.tail()}")
            with contextlib.suppress(OSError):
                if ready():
                    return
            if time.monotonic() > deadline:
                raise LiveKitError(f"{self.name} was not ready within {timeout:.0f} s{self.tail()}")
            time.sleep(0.1)

    def tail(self) -> str:
        return log_tail(self.log_path)

    def stop(self, first: signal.Signals, timeout: float = 5.0) -> int | None:
        code: int | None = None
        process, self.process = self.process, None
        if process is not None:
            for sig in (first, signal.SIGKILL):
                if process.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout)
            code = process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return code


def _accepts(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1.0):
        return True


def _redis_answers(host: str, port: int) -> bool:
    with socket.create_connection((host, port), timeout=1.0) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


class LocalTelephony:
    """Redis + livekit-server + livekit-sip on this machine; every port can be chosen (``None``: the
    configs' own, i.e. Redis 6379, LiveKit 7880, SIP 5060, RTP 10000-10100)."""

    def __init__(
        self,
        *,
        livekit_config: Path = DEFAULT_CONFIG,
        sip_config: Path = DEFAULT_SIP_CONFIG,
        port: int | None = None,
        rtc_tcp_port: int | None = None,
        udp_port_range: tuple[int, int] | None = None,
        redis_port: int | None = None,
        sip_port: int | None = None,
        rtp_port_range: tuple[int, int] | None = None,
        log_dir: Path | None = None,
    ) -> None:
        self.sip_config_path = sip_config
        self.sip_base = load_config(sip_config)
        self.redis_host = "127.0.0.1"
        self.redis_port = redis_port or int(
            str(self.sip_base.get("redis", {}).get("address", ":6379")).rsplit(":", 1)[1]
        )
        self.log_dir = log_dir
        self.livekit = LocalLiveKit(
            livekit_config,
            port=port,
            rtc_tcp_port=rtc_tcp_port,
            udp_port_range=udp_port_range,
            redis_address=self.redis_address,
            log_path=log_dir / "livekit-server.log" if log_dir else None,
        )
        self.sip_port = sip_port or int(self.sip_base.get("sip_port", 5060))
        self.rtp_port_range = rtp_port_range
        self.redis = _Child("redis-server", log_dir / "redis.log" if log_dir else None)
        self.sip = _Child("livekit-sip", log_dir / "livekit-sip.log" if log_dir else None)
        self._workdir: Path | None = None

    @property
    def redis_address(self) -> str:
        return f"{self.redis_host}:{self.redis_port}"

    @property
    def settings(self) -> LiveKitSettings:
        return self.livekit.settings

    @property
    def sip_host(self) -> str:
        return str(self.sip_base.get("listen_ip") or "127.0.0.1")

    @property
    def sip_uri_host(self) -> str:
        """``host:port`` where callers send their INVITEs."""
        return f"{self.sip_host}:{self.sip_port}"

    def sip_config(self) -> dict[str, Any]:
        """livekit-sip.yaml with this stack's server, keys, Redis and ports."""
        config = copy.deepcopy(self.sip_base)
        config["ws_url"] = self.livekit.url
        config["api_key"] = self.livekit.api_key
        config["api_secret"] = self.livekit.api_secret
        config["redis"] = {"address": self.redis_address}
        config["sip_port"] = self.sip_port
        config.pop("sip_port_listen", None)
        if self.rtp_port_range is not None:
            config["rtp_port"] = f"{self.rtp_port_range[0]}-{self.rtp_port_range[1]}"
        return config

    @property
    def running(self) -> bool:
        return self.redis.running and self.livekit.running and self.sip.running

    def start(self, timeout: float = 60.0) -> LocalTelephony:
        sip_binary, redis_binary = find_livekit_sip(), find_redis_server()
        self._workdir = Path(tempfile.mkdtemp(prefix="theo-telephony-"))
        try:
            self.redis.start(
                [
                    str(redis_binary),
                    "--bind", self.redis_host,
                    "--port", str(self.redis_port),
                    "--save", "",
                    "--appendonly", "no",
                    "--protected-mode", "yes",
                ],
                self._workdir,
            )  # fmt: skip
            self.redis.wait_ready(lambda: _redis_answers(self.redis_host, self.redis_port), timeout)
            self.livekit.start(timeout)
            config_file = self._workdir / "livekit-sip.yaml"
            config_file.write_text(yaml.safe_dump(self.sip_config(), sort_keys=False))
            self.sip.start([str(sip_binary), "--config", str(config_file)], self._workdir)
            # v1.0.0 serves no health endpoint (health_port is read but unused): it is ready once its SIP
            # TCP listener (opened after the UDP one) accepts connections.
            self.sip.wait_ready(lambda: _accepts(self.sip_host, self.sip_port), timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_any_exit(self, poll_s: float = 0.5) -> str:
        """Block until one of the three exits; its name."""
        while True:
            for name, child_running in (
                ("redis-server", self.redis.running),
                ("livekit-server", self.livekit.running),
                ("livekit-sip", self.sip.running),
            ):
                if not child_running:
                    return name
            time.sleep(poll_s)

    def stop(self) -> int | None:
        """livekit-sip first (SIGINT: it hangs up every call now; SIGTERM would wait for them to end),
        then livekit-server, then Redis."""
        self.sip.stop(signal.SIGINT)
        code = self.livekit.stop()
        self.redis.stop(signal.SIGTERM)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        return code  # livekit-server's exit code

    def __enter__(self) -> LocalTelephony:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def free_telephony_ports() -> dict[str, Any]:
    """Free loopback ports for every service of a :class:`LocalTelephony` (tests)."""
    from theo_rtc.transports.livekit.devserver import free_udp_range

    return {
        "port": free_tcp_port(),
        "rtc_tcp_port": 0,
        "udp_port_range": free_udp_range(32),
        "redis_port": free_tcp_port(),
        "sip_port": free_udp_port(),
        "rtp_port_range": free_udp_range(20),
    }


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A port free for both UDP and TCP (SIP listens on both)."""
    for _ in range(100):
        port = free_tcp_port(host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
        return port
    raise LiveKitError("no free port for SIP")
