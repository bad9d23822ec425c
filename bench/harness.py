"""Start and stop a real `theo serve` on 127.0.0.1 (used by the benchmarks and the test-suite)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

THEO = str(Path(sys.executable).with_name("theo"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_server(
    home: Path, log_path: Path, *, preload: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> RunningServer:
    """Run `theo serve` on a free loopback port and wait until /health answers 200."""
    port = free_port()
    full_env = os.environ | {"THEO_HOME": str(home)} | (env or {})
    args = [THEO, "serve", "--host", "127.0.0.1", "--port", str(port)]
    for name in preload:
        args += ["--preload", name]
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(args, env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{log_path.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return RunningServer(url, process, log_path)
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    process.kill()
    raise RuntimeError(f"server not healthy after 120 s:\n{log_path.read_text()}")
