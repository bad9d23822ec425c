"""Constants and start-up helpers shared by worker subprocesses and the runtime that spawns them."""

import argparse
import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import grpc

READY_PREFIX = "THEO_WORKER_READY"
"""First stdout line of a worker once it serves: ``THEO_WORKER_READY port=N``."""

GRPC_OPTIONS = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]

TTS_ERROR_CODE_KEY = "theo-error-code"
TTS_ERROR_PARAM_KEY = "theo-error-param"
"""Trailing metadata of a TTS worker's INVALID_ARGUMENT: the OpenAI error code and param (unknown voice)."""


def exit_with_parent() -> None:
    """Make this worker die with the runtime that spawned it, even if the runtime was SIGKILLed.

    Linux delivers SIGTERM on the parent's death (PR_SET_PDEATHSIG); elsewhere the worker's own watchdog
    (:func:`watch_parent`) notices the re-parenting within a second.
    """
    import ctypes
    import ctypes.util
    import signal

    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return
    pr_set_pdeathsig = 1
    ctypes.CDLL(libc_name).prctl(pr_set_pdeathsig, signal.SIGTERM)


async def watch_parent(stop: asyncio.Event, parent_pid: int) -> None:
    while not stop.is_set():
        if os.getppid() != parent_pid:
            stop.set()
            return
        await asyncio.sleep(1.0)


async def serve_worker(
    add_servicer: Callable[[grpc.aio.Server], None], on_stop: Callable[[], Awaitable[None]]
) -> None:
    """Serve on a free loopback port, announce it on stdout, run until SIGTERM/SIGINT or the parent dies."""
    parent = os.getppid()
    server = grpc.aio.server(options=GRPC_OPTIONS)
    add_servicer(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"{READY_PREFIX} port={port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    watchdog = asyncio.create_task(watch_parent(stop, parent))
    await stop.wait()
    watchdog.cancel()
    await server.stop(grace=1.0)
    await on_stop()


def worker_main(kind: str, serve: Callable[[Path, int], Coroutine[Any, Any, None]]) -> None:
    """Command line of a worker subprocess: ``python -m theo_rtc.workers.<kind>_worker --model-dir DIR``."""
    parser = argparse.ArgumentParser(description=f"Theo {kind} worker (started by `theo serve`)")
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--cpu-threads", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    exit_with_parent()
    asyncio.run(serve(args.model_dir, args.cpu_threads))
