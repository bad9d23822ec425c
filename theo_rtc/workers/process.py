"""One engine worker subprocess: spawn, readiness, exit detection, restart, and periodic health checks."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import grpc
import httpx

from theo_rtc.errors import WorkerUnavailableError
from theo_rtc.observability import metrics
from theo_rtc.proto import stt_worker_pb2, stt_worker_pb2_grpc, tts_worker_pb2, tts_worker_pb2_grpc
from theo_rtc.registry.store import InstalledModel
from theo_rtc.scheduler import PriorityLimiter
from theo_rtc.workers.deadlines import Deadlines
from theo_rtc.workers.protocol import GRPC_OPTIONS, READY_PREFIX

log = logging.getLogger("theo.workers")

WORKER_MODULES = {
    "stt": "theo_rtc.workers.stt_worker",
    "tts": "theo_rtc.workers.tts_worker",
    "llm": "theo_rtc.workers.llm_worker",
}
HTTP_WORKERS = {"llm": "/v1/models"}
"""Workers that serve HTTP instead of gRPC (the LLM: llama.cpp's OpenAI-compatible server), each with the
path whose 200 means the model answers: checked before the worker is ready, then as the health check.
A busy model answers it late (llama.cpp serves one request at a time), hence its generous defaults.

Every worker is health-checked every ``probe_interval_s`` (gRPC workers: their ``Health`` RPC, which
answers while a decode runs in its thread); ``probe_failures`` checks in a row without an answer within
``probe_timeout_s`` mark the worker unhealthy (``/health`` says so) and kill it, so it restarts as after
a crash. That is what frees a worker that hangs (SIGSTOP, a wedged native library) instead of dying."""


class WorkerState(StrEnum):
    STARTING = "starting"
    READY = "ready"
    RESTARTING = "restarting"
    UNHEALTHY = "unhealthy"  # stopped answering health checks: being killed, then restarted
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class WorkerInfo:
    model: str
    type: str
    engine: str
    state: str
    pid: int | None
    port: int | None
    restarts: int
    uptime_s: float
    in_flight: int
    queued: int
    last_error: str | None


class WorkerProcess:
    """Owns the subprocess for ``model``; restarts it whenever it exits without being asked to."""

    def __init__(
        self,
        model: InstalledModel,
        *,
        start_timeout: float,
        restart_backoff: float,
        cpu_threads: int,
        concurrency: int,
        on_exit: Callable[[str, int | None], None] | None = None,
    ) -> None:
        self.model = model
        self.kind = model.manifest.type
        self.limiter = PriorityLimiter(concurrency)
        self._start_timeout = start_timeout
        self._backoff = restart_backoff
        self._cpu_threads = cpu_threads
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self.channel: grpc.aio.Channel | None = None
        self.port: int | None = None
        self.state = WorkerState.STOPPED
        self.restarts = 0
        self.last_error: str | None = None
        # Why the health checks killed the process, until its replacement is ready (errors quote it).
        self.unhealthy_reason: str | None = None
        self._ready = asyncio.Event()
        self._started_at = 0.0
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._generation = 0
        self._stderr_tail: list[str] = []
        self.deadlines = Deadlines()  # per-call deadlines for this worker's clients
        self.probe_interval_s = 10.0
        self.probe_timeout_s = 30.0
        self.probe_failures = 3

    def require_channel(self) -> grpc.aio.Channel:
        """The gRPC channel to the running worker; a 503-style error while it is down."""
        if self.channel is None:
            raise WorkerUnavailableError(f"the {self.model.name} worker is not running")
        return self.channel

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of a running HTTP worker; a 503-style error while it is down."""
        if self.kind not in HTTP_WORKERS or self.port is None or self.state != WorkerState.READY:
            raise WorkerUnavailableError(f"the {self.model.name} worker is not running")
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.returncode is None else None

    def info(self) -> WorkerInfo:
        return WorkerInfo(
            model=self.model.name,
            type=self.kind,
            engine=self.model.manifest.engine,
            state=self.state.value,
            pid=self.pid,
            port=self.port,
            restarts=self.restarts,
            uptime_s=round(time.monotonic() - self._started_at, 1)
            if self.state == WorkerState.READY
            else 0.0,
            in_flight=self.limiter.in_use,
            queued=self.limiter.waiting,
            last_error=self.last_error,
        )

    async def start(self) -> None:
        self._stopping = False
        self.state = WorkerState.STARTING if self.restarts == 0 else WorkerState.RESTARTING
        self._ready.clear()
        self._generation += 1
        generation = self._generation
        cmd = [sys.executable, "-m", WORKER_MODULES[self.kind], "--model-dir", str(self.model.path)]
        if self._cpu_threads:
            cmd += ["--cpu-threads", str(self._cpu_threads)]
        if self.kind in HTTP_WORKERS and self.port:
            cmd += ["--port", str(self.port)]  # a restarted worker keeps its address when it can
        log.info("starting %s worker for %s", self.kind, self.model.name)
        self._proc = await asyncio.create_subprocess_exec(
            *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        proc = self._proc
        self._spawn(self._forward_stderr(proc))
        try:
            port = await asyncio.wait_for(self._until_ready(proc), self._start_timeout)
        except (TimeoutError, RuntimeError) as exc:
            await asyncio.sleep(0.2)  # let the stderr forwarder catch the traceback
            tail = " | ".join(self._stderr_tail[-3:])
            self.last_error = f"worker did not become ready: {exc or 'timeout'}" + (
                f" ({tail})" if tail else ""
            )
            self.state = WorkerState.FAILED
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
            raise WorkerUnavailableError(
                f"the {self.model.name} worker failed to start: {self.last_error}"
            ) from exc
        self.port = port
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        if self.kind not in HTTP_WORKERS:
            self.channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}", options=GRPC_OPTIONS)
        self._started_at = time.monotonic()
        self.unhealthy_reason = None
        self.state = WorkerState.READY
        self._ready.set()
        metrics.workers_ready.labels(self.model.name, self.kind).set(1)
        log.info("%s worker for %s ready (pid %s, port %s)", self.kind, self.model.name, proc.pid, port)
        self._spawn(self._watch(proc, generation))
        if self.probe_interval_s > 0:
            self._spawn(self._probe(proc, generation))

    async def wait_ready(self) -> None:
        if self.state == WorkerState.FAILED:
            raise WorkerUnavailableError(f"the {self.model.name} worker failed: {self.last_error}")
        try:
            await asyncio.wait_for(self._ready.wait(), self._start_timeout)
        except TimeoutError as exc:
            raise WorkerUnavailableError(
                f"the {self.model.name} worker is not ready yet; retry shortly"
            ) from exc

    async def stop(self) -> None:
        self._stopping = True
        self.state = WorkerState.STOPPED
        self._ready.clear()
        proc = self._proc
        if proc is not None and proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGCONT)  # a stopped (hung) worker gets to handle its SIGTERM
            try:
                await asyncio.wait_for(proc.wait(), 5.0)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if self.channel is not None:
            await self.channel.close()
            self.channel = None
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _until_ready(self, proc: asyncio.subprocess.Process) -> int:
        port = await self._read_ready(proc)
        path = HTTP_WORKERS.get(self.kind)
        while path is not None:
            try:
                async with httpx.AsyncClient(timeout=self.probe_timeout_s) as client:
                    (await client.get(f"http://127.0.0.1:{port}{path}")).raise_for_status()
                break
            except httpx.HTTPError as exc:
                if proc.returncode is not None:
                    raise RuntimeError(f"exited with code {proc.returncode} before it was ready") from exc
                await asyncio.sleep(0.1)
        return port

    async def _probe(self, proc: asyncio.subprocess.Process, generation: int) -> None:
        """Liveness: a worker that stops answering is marked unhealthy and killed (and so restarted)."""
        failed = 0
        async with httpx.AsyncClient() as client:
            while proc.returncode is None and generation == self._generation and not self._stopping:
                await asyncio.sleep(self.probe_interval_s)
                if proc.returncode is not None or generation != self._generation or self._stopping:
                    return
                try:
                    await self._check_health(client)
                    failed = 0
                except (httpx.HTTPError, grpc.aio.AioRpcError, WorkerUnavailableError) as exc:
                    if self._stopping or generation != self._generation:
                        return
                    failed += 1
                    metrics.worker_errors_total.labels(self.model.name, "health_check").inc()
                    log.warning(
                        "%s worker for %s: health check %d/%d failed (%s)",
                        self.kind,
                        self.model.name,
                        failed,
                        self.probe_failures,
                        _describe(exc),
                    )
                if failed >= self.probe_failures and proc.returncode is None and not self._stopping:
                    self._mark_unhealthy(proc, failed)
                    return

    async def _check_health(self, client: httpx.AsyncClient) -> None:
        """One health check, answered within ``probe_timeout_s`` or raising."""
        if self.kind in HTTP_WORKERS:
            url = f"http://127.0.0.1:{self.port}{HTTP_WORKERS[self.kind]}"
            (await client.get(url, timeout=self.probe_timeout_s)).raise_for_status()
        elif self.kind == "stt":
            stt = stt_worker_pb2_grpc.STTWorkerStub(self.require_channel())
            await stt.Health(stt_worker_pb2.HealthRequest(), timeout=self.probe_timeout_s)
        else:
            tts = tts_worker_pb2_grpc.TTSWorkerStub(self.require_channel())
            await tts.Health(tts_worker_pb2.HealthRequest(), timeout=self.probe_timeout_s)

    def _mark_unhealthy(self, proc: asyncio.subprocess.Process, failed: int) -> None:
        reason = (
            f"stopped answering health checks ({failed} in a row without an answer within "
            f"{self.probe_timeout_s:g} s)"
        )
        log.error("%s worker for %s %s; killing it", self.kind, self.model.name, reason)
        self.unhealthy_reason = reason
        self.last_error = reason
        self.state = WorkerState.UNHEALTHY
        self._ready.clear()  # new requests wait for the restart instead of queueing on a hung process
        metrics.workers_ready.labels(self.model.name, self.kind).set(0)
        with contextlib.suppress(ProcessLookupError):
            proc.kill()  # _watch restarts it; calls in flight fail now instead of at their deadline

    async def _read_ready(self, proc: asyncio.subprocess.Process) -> int:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError(f"exited with code {await proc.wait()} before it was ready")
            text = line.decode(errors="replace").strip()
            if text.startswith(READY_PREFIX):
                return int(text.split("port=", 1)[1])

    async def _forward_stderr(self, proc: asyncio.subprocess.Process) -> None:
        assert proc.stderr is not None
        worker_log = logging.getLogger(f"theo.worker.{self.model.name}")
        async for line in proc.stderr:
            text = line.decode(errors="replace").rstrip()
            if text:
                # Workers log "LEVEL name: message"; keep their level so engine chatter stays at debug.
                # Unprefixed lines (tracebacks, native libraries) are surfaced as warnings.
                level = logging.getLevelName(text.split(" ", 1)[0])
                if not isinstance(level, int):
                    level = logging.WARNING
                worker_log.log(logging.DEBUG if level == logging.INFO else level, "%s", text)
                self._stderr_tail = [*self._stderr_tail[-9:], text[-300:]]

    async def _watch(self, proc: asyncio.subprocess.Process, generation: int) -> None:
        code = await proc.wait()
        if self._stopping or generation != self._generation:
            return
        self._ready.clear()
        self.state = WorkerState.RESTARTING
        metrics.workers_ready.labels(self.model.name, self.kind).set(0)
        reason = self.unhealthy_reason
        self.last_error = (
            f"{reason}; killed and restarted" if reason else f"worker exited unexpectedly with code {code}"
        )
        log.warning("%s worker for %s exited (code %s); restarting", self.kind, self.model.name, code)
        if self._on_exit is not None:
            self._on_exit(self.model.name, code)
        await asyncio.sleep(self._backoff)
        self.restarts += 1
        try:
            await self.start()
        except WorkerUnavailableError as exc:
            log.error("%s", exc)

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return repr(exc)
