"""LLM worker subprocess: one GGUF model served by llama.cpp's OpenAI-compatible server (llama-cpp-python).

Run by the :class:`~theo_rtc.workers.manager.WorkerManager` like the STT/TTS workers, but it speaks HTTP,
not gRPC: ``/v1/chat/completions`` (streaming), ``/v1/completions``, ``/v1/models`` on 127.0.0.1. It
prints ``THEO_WORKER_READY port=N`` on stdout once the model is loaded and the server accepts requests;
the runtime then checks ``GET /v1/models`` before it calls the worker ready.

``--port`` asks for a port (a restarted worker takes its predecessor's, so the agents' endpoints stay
valid); when that port is taken, any free one is used and announced.

The served model id is the Theo model name (its ``model_alias``). Requests queue (one generation at a
time, llama.cpp's server is single-slot) instead of cancelling each other: two calls sharing the worker
must both get their answer.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import logging
import os
import socket
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from theo_rtc.registry.manifest import ModelManifest
from theo_rtc.workers.protocol import READY_PREFIX, exit_with_parent, watch_parent

if TYPE_CHECKING:
    from fastapi import FastAPI

log = logging.getLogger("theo.worker.llm")

DEFAULT_CONTEXT = 4096


def default_threads() -> int:
    """Half the cores, for decoding and for prompt processing alike. llama.cpp's threads spin at their
    barriers, so on a busy machine (a voice call also runs STT and TTS) one thread per core collapses:
    measured on 2 loaded cores, 0.5B at 1 thread gave 12-28 tokens/s and 0.5-0.9 s to the first token,
    at 2 threads 0.8-1.8 tokens/s and 2-5 s. ``THEO_WORKER_CPU_THREADS`` or the manifest's ``n_threads``
    override it (2 threads is faster on an otherwise idle machine)."""
    return max(1, (os.cpu_count() or 2) // 2)


def _bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if not port:
            raise
        log.warning("port %s is taken; serving on a free port", port)
        sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


class _LogLines(io.TextIOBase):
    """A text stream whose lines become debug log records (the runtime forwards stderr, not stdout)."""

    def __init__(self, logger: logging.Logger) -> None:
        self._logger = logger
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        lines = (self._partial + text).split("\n")
        self._partial = lines.pop()
        for line in lines:
            if line.strip():
                self._logger.debug("%s", line)
        return len(text)


def _stdout_to_log() -> None:
    """After the ready line nobody reads stdout: a full pipe would block the server. llama.cpp's server
    prints a line per client disconnect (every barge-in), so stdout goes to the log, at debug level."""
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), 1)  # native writes too
    sys.stdout = _LogLines(logging.getLogger("llama_cpp.server"))


def build_app(model_dir: Path, cpu_threads: int) -> FastAPI:
    """llama.cpp's FastAPI app with the model in ``model_dir`` loaded (blocks while it loads)."""
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    # Both settings classes also read the environment by bare field name (API_KEY, MODEL, N_CTX, ...)
    # and create_app a CONFIG_FILE: only the manifest configures this worker.
    fields = {*ModelSettings.model_fields, *ServerSettings.model_fields, "config_file"}
    for key in [k for k in os.environ if k.lower() in fields]:
        del os.environ[key]
    manifest = ModelManifest.load(model_dir)
    config = dict(manifest.engine_config)
    model_file = model_dir / str(config.pop("model_file"))
    threads = cpu_threads or int(config.pop("n_threads", 0)) or default_threads()
    settings = ModelSettings(
        model=str(model_file),
        model_alias=manifest.name,
        n_ctx=int(config.pop("n_ctx", DEFAULT_CONTEXT)),
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
        **config,  # any other llama.cpp model setting the manifest names (n_batch, chat_format, ...)
    )
    server = ServerSettings(host="127.0.0.1", port=0, interrupt_requests=False)
    _amx_off_unless_asked()
    return create_app(server_settings=server, model_settings=[settings])


def _amx_off_unless_asked() -> None:
    """A wheel built for a CPU that advertises AMX (GGML_NATIVE) places weights in llama.cpp's AMX buffer
    type; in a VM that advertises AMX without running it (this machine: Firecracker, amx_tile in
    /proc/cpuinfo, XCOMP permission granted) its first ``ldtilecfg`` is a general protection fault and the
    worker dies on the first token. So where the build has AMX, the extra buffer types (AMX, repacked
    weights) are off; ``THEO_LLM_EXTRA_BUFFERS=1`` turns them back on (bare metal with working AMX)."""
    import llama_cpp.llama_cpp as native

    if os.environ.get("THEO_LLM_EXTRA_BUFFERS") == "1" or b"AMX" not in native.llama_print_system_info():
        return
    defaults = native.llama_model_default_params

    def without_extra_buffers() -> native.llama_model_params:
        params = defaults()
        params.use_extra_bufts = False
        return params

    native.llama_model_default_params = without_extra_buffers  # read by llama_cpp.Llama when it loads


async def serve(model_dir: Path, cpu_threads: int, port: int) -> None:
    import uvicorn

    parent = os.getppid()
    app = build_app(model_dir, cpu_threads)
    sock = _bind(port)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off", timeout_keep_alive=30)
    )
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if serving.done():
            serving.result()  # raises what stopped it
            raise RuntimeError("the HTTP server stopped before it started")
        await asyncio.sleep(0.02)
    print(f"{READY_PREFIX} port={sock.getsockname()[1]}", flush=True)
    _stdout_to_log()

    stop = asyncio.Event()
    watchdog = asyncio.create_task(watch_parent(stop, parent))
    stopped = asyncio.create_task(stop.wait())
    # uvicorn handles SIGTERM/SIGINT itself (graceful shutdown); the watchdog covers a vanished parent.
    await asyncio.wait({serving, stopped}, return_when=asyncio.FIRST_COMPLETED)
    server.should_exit = True
    watchdog.cancel()
    stopped.cancel()
    await serving


def main() -> None:
    parser = argparse.ArgumentParser(description="Theo LLM worker (started by `theo serve`)")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--cpu-threads", type=int, default=0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    exit_with_parent()
    asyncio.run(serve(args.model_dir, args.cpu_threads, args.port))


if __name__ == "__main__":
    main()
