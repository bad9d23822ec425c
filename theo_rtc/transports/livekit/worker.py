"""``theo agent``: a LiveKit agent worker that joins rooms it is explicitly dispatched to.

``livekit-agents`` is used only for the worker protocol: registration under ``agent_name``, dispatch,
load reports, retries with back-off while the server is down, its health endpoint. Its jobs run in
threads with an event loop each; Theo's engines live once per worker, in the worker's own loop (started
before registering: that is the prewarm). A job therefore hands its room (URL + the job's join token) to
that loop and waits; the room is served there by :class:`TheoRoom`, next to the engines.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from dataclasses import dataclass, field

from livekit import rtc
from livekit.agents import AgentServer, JobContext, JobExecutorType

from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig
from theo_rtc.transports.livekit.failover import DispatchWatcher
from theo_rtc.transports.livekit.phone import PhoneOptions, phone_options_from_metadata
from theo_rtc.transports.livekit.room import (
    RoomOptions,
    TheoRoom,
    agent_from_metadata,
    session_config_from_metadata,
)
from theo_rtc.transports.livekit.settings import LiveKitSettings
from theo_rtc.transports.registry import SessionRegistry

log = logging.getLogger("theo.agent")


class _ConnectedElsewhere(logging.Filter):
    """livekit-agents warns when a job never calls ``ctx.connect()``; Theo's jobs connect in the worker's
    loop instead (see the module docstring), so that warning would be noise on every job."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "job_ctx.connect() was never invoked" not in record.getMessage() and (
            "without establishing a connection" not in record.getMessage()
        )


logging.getLogger("livekit.agents").addFilter(_ConnectedElsewhere())

__all__ = ["AgentOptions", "RoomHost", "run_agent"]


@dataclass(frozen=True, slots=True)
class AgentOptions:
    livekit: LiveKitSettings = field(default_factory=LiveKitSettings.from_env)
    agent_name: str = "theo"
    max_rooms: int = 8  # jobs accepted at once; LiveKit sends further dispatches to other workers
    max_tracks_per_room: int = 8
    preload: tuple[str, ...] = ()
    health_port: int = 8081  # livekit-agents' worker health endpoint (GET / -> 200 once registered)
    max_retry: int = 30  # connection attempts while the LiveKit server is down (back-off up to 10 s)
    config: SessionConfig = field(default_factory=SessionConfig)


class RoomHost:
    """Serves rooms in the worker's loop on behalf of job threads; counts them for LiveKit's load report."""

    def __init__(self, runtime: TheoRuntime, options: AgentOptions) -> None:
        self.runtime = runtime
        self.options = options
        self.registry = SessionRegistry(runtime.settings.max_sessions)
        self.loop = asyncio.get_running_loop()
        self.rooms: dict[str, TheoRoom] = {}

    def load(self) -> float:
        """0..1 for LiveKit: a full worker (``max_rooms`` jobs) gets no more dispatches."""
        return min(len(self.rooms) / max(self.options.max_rooms, 1), 1.0)

    async def serve_job(self, job_id: str, room_name: str, url: str, token: str, metadata: str) -> str:
        """Join ``room_name`` with the job's token and serve it until it ends."""
        config = self.options.config
        agent = None
        phone = PhoneOptions()
        try:
            config = session_config_from_metadata(metadata, config)
            agent = agent_from_metadata(metadata)
            phone = phone_options_from_metadata(metadata)
        except ValueError as exc:
            log.warning("job %s: %s; using the default session options", job_id, exc)
        room = TheoRoom(
            self.runtime,
            self.registry,
            rtc.Room(),
            RoomOptions(max_tracks=self.options.max_tracks_per_room, config=config, agent=agent, phone=phone),
        )
        self.rooms[job_id] = room
        log.info("job %s: joining room %s", job_id, room_name)
        try:
            reason = await room.serve(url, token)
        finally:
            self.rooms.pop(job_id, None)
        log.info("job %s: room %s done (%s)", job_id, room_name, reason)
        return reason

    async def entrypoint(self, ctx: JobContext) -> None:
        """Runs in a job thread's loop: hand the room to the worker's loop, wait, end the job."""
        info = ctx._info  # RunningJobInfo: the job's URL and the join token LiveKit issued for it
        future = asyncio.run_coroutine_threadsafe(
            self.serve_job(ctx.job.id, ctx.job.room.name, info.url, info.token, ctx.job.metadata), self.loop
        )
        try:
            reason = await asyncio.wrap_future(future)
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            future.cancel()
            raise
        ctx.shutdown(reason)


async def run_agent(options: AgentOptions) -> None:
    """Load the engines once, then register with LiveKit and serve dispatches until cancelled."""
    runtime = TheoRuntime()
    preload = list(options.preload) or [runtime.settings.default_stt_model]
    await runtime.start(preload)
    await asyncio.to_thread(runtime.postprocessor.warm_up)
    host = RoomHost(runtime, options)
    server = AgentServer(
        ws_url=options.livekit.url,
        api_key=options.livekit.api_key,
        api_secret=options.livekit.api_secret,
        job_executor_type=JobExecutorType.THREAD,
        num_idle_processes=1,
        load_fnc=host.load,
        load_threshold=1.0,
        host="127.0.0.1",
        port=options.health_port,
        max_retry=options.max_retry,
    )
    server.rtc_session(host.entrypoint, agent_name=options.agent_name)
    server.on(
        "worker_registered",
        # short on purpose: the line must survive log wrapping intact (tests wait for it)
        lambda worker_id, _info: log.info("registered as worker %s", worker_id),
    )
    log.info(
        "theo agent %r: registering with %s (engines ready: %s)",
        options.agent_name,
        options.livekit.url,
        ", ".join(preload),
    )
    # self-hosted LiveKit never restarts a job whose worker died: Theo's workers watch for that
    watcher = asyncio.create_task(DispatchWatcher(options.livekit, options.agent_name).run())
    try:
        await server.run(devmode=False)
    finally:
        watcher.cancel()
        for room in list(host.rooms.values()):
            room.end("worker stopping")
        await server.aclose()
        await runtime.close()
