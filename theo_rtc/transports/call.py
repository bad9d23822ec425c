"""One conversation on one transport: the seam every transport (WebSocket, WebRTC peer, LiveKit room, and
so SIP) builds on.

A :class:`Call` owns a :class:`StreamingSession`, its :class:`Speaker` (when the transport can play audio),
a slot in the :class:`SessionRegistry`, the one path client messages take (parse → dialect → error event)
and a bounded close. A transport only adapts I/O: it feeds audio and client messages in, and gives the call
an output for events and an :class:`AudioSink` for speech.

    reserve() → open() → run(transport tasks…) → close()      (abort() instead of open/run on a failed setup)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Protocol

from theo_rtc.errors import InvalidRequestError, TheoError
from theo_rtc.runtime import TheoRuntime
from theo_rtc.session import SessionConfig, StreamingSession
from theo_rtc.session.state import Timeouts
from theo_rtc.transports import echo
from theo_rtc.transports.protocol.dialect import Dialect, parse_event
from theo_rtc.transports.registry import SessionRegistry
from theo_rtc.transports.sink import AudioSink
from theo_rtc.transports.speaker import Speaker

if TYPE_CHECKING:
    from theo_rtc.agent import AgentOptions, VoiceAgent
    from theo_rtc.agent.tools import ToolBox
    from theo_rtc.preprocessing.echo import EchoCanceller

log = logging.getLogger("theo.call")

__all__ = ["Call", "CallOutput"]

CLOSE_LIMIT_S = 40  # the session's own flush budget is 2 s + 30 s for committed finals
MAX_INBOX = 256
_MISSING = object()  # a message without an "agent" field
MAX_TOOL_OUTPUT = 8_000
AGENT_EVENTS = frozenset(
    {"agent.start", "agent.update", "agent.stop"}
)  # client messages waiting to be handled before the peer is judged to be flooding


class CallOutput(Protocol):
    """A transport's way out for events: queued, bounded, never blocking for long."""

    overflowed: asyncio.Event  # set once the client stopped reading and the output gave up

    async def send_event(self, event: dict[str, Any]) -> None: ...

    def send_raw(self, message: dict[str, Any]) -> None: ...


class Call:
    def __init__(
        self,
        runtime: TheoRuntime,
        registry: SessionRegistry,
        dialect: Dialect,
        output: CallOutput,
        config: SessionConfig,
        *,
        sink: AudioSink | None = None,
        speaker: Speaker | None = None,
        timeouts: Timeouts | None = None,
        max_message_chars: int = 256 * 1024,
        agent: AgentOptions | None = None,
    ) -> None:
        """``agent``: answer the caller with the voice agent (needs a ``sink`` or ``speaker``)."""
        self.runtime = runtime
        self.registry = registry
        self.dialect = dialect
        self.output = output
        self.sink = sink
        self._observers: list[Callable[[dict[str, Any]], None]] = []
        self.session = StreamingSession(
            runtime, _Observed(output, self._observers), config, timeouts=timeouts
        )
        # A session that is speaking (its input gate held) is not idle, whether or not audio comes in.
        self.session.state.busy = lambda: self.session.input_gate.closed
        self.speaker = speaker  # shared by the transport (one voice for many sessions), or made at open()
        self._owns_speaker = speaker is None
        self.end_reason = "disconnected"
        self._max_message_chars = max_message_chars
        self._inbox: asyncio.Queue[str | bytes] = asyncio.Queue()
        self._ended = asyncio.Event()
        self._closed = asyncio.Event()
        self._reserved = False
        self._opened = False
        self.agent_options = agent
        self.agent: VoiceAgent | None = None
        self.echo: EchoCanceller | None = None  # while the agent listens over its own voice

    @property
    def id(self) -> str:
        return self.session.id

    # --- lifecycle ------------------------------------------------------------------------------------------

    def reserve(self, *, pending: bool = False) -> None:
        """Take a registry slot (raises ``too_many_sessions``) and check the model exists, before any task
        starts: a burst of calls cannot overshoot ``max_sessions`` while they are being set up. ``pending``:
        a slot from the budget of calls whose peer has not connected yet (WebRTC offers)."""
        self.registry.reserve(self.session, pending=pending, end=self.end)  # a drain ends the call
        self._reserved = True
        self.runtime.store.get(self.session.config.model)

    async def open(self) -> None:
        await self.session.start()
        self._opened = True
        if self.speaker is None and self.sink is not None:
            self.speaker = Speaker(self.runtime, self.session, self.sink)
        self.dialect.speaker = self.speaker
        if self.agent_options is not None:
            await self.start_agent(self.agent_options)

    async def start_agent(self, options: AgentOptions) -> VoiceAgent:
        """Attach (or replace) the voice agent: from here on it answers every final of this call."""
        from theo_rtc.agent import VoiceAgent

        if self.speaker is None:
            raise InvalidRequestError(
                "this call cannot play audio, so it cannot run the agent", param="agent"
            )
        await self.stop_agent()
        self.agent = VoiceAgent(self.session, self.speaker, options, self._tools(options))
        self._observers.append(self.agent.on_event)
        self._update_echo()  # before the agent speaks: a greeting is cancelled too
        await self.agent.start()
        return self.agent

    def _tools(self, options: AgentOptions) -> ToolBox:
        from theo_rtc.agent.tools import ToolBox, load_webhooks

        try:
            webhooks = load_webhooks(self.runtime.settings.agent_tools_file)
        except (OSError, ValueError) as exc:  # a broken tools file must not take the agent down
            log.error("agent tools file %s: %s", self.runtime.settings.agent_tools_file, exc)
            webhooks = {}
        return ToolBox(
            webhooks=webhooks,
            client={t["name"]: t for t in options.tools},
            end_call=self._hang_up if options.end_call_tool else None,
        )

    async def _hang_up(self) -> None:
        """The agent's ``end_call`` tool, run once its goodbye has played out."""
        self.session.emit("agent.call_ended", reason="the agent ended the call")
        self.end("agent ended the call")

    async def stop_agent(self) -> None:
        agent, self.agent = self.agent, None
        if agent is not None:
            self._observers.remove(agent.on_event)
            await agent.aclose()
        self._update_echo()

    def _update_echo(self) -> None:
        """Echo cancellation follows the agent: on while the microphone stays open over its voice
        (``interruptions`` barge-in or off) unless its ``echo_cancellation`` option is off."""
        options = self.agent.options if self.agent is not None else None
        wanted = options is not None and options.echo_cancellation and options.interruptions != "mute"
        sink = self.sink or (self.speaker.sink if self.speaker is not None else None)
        if wanted and self.echo is None and sink is not None:
            self.echo = echo.attach(sink, self.session)  # each call taps the sink, even a room's shared one
        elif not wanted and self.echo is not None:
            echo.detach(self.echo, sink, self.session)
            self.echo = None

    async def run(self, *transport: Coroutine[Any, Any, object]) -> None:
        """Serve the call until the first of: the transport's tasks end (peer gone), the session closes, the
        client asks to end, the output overflows (client not reading). Then stop the transport's tasks."""
        tasks: list[asyncio.Task[Any]] = [asyncio.create_task(coro) for coro in transport]
        waits: list[asyncio.Task[Any]] = [
            asyncio.create_task(self._ended.wait()),
            asyncio.create_task(self.session.wait_closed()),
            asyncio.create_task(self.output.overflowed.wait()),
            asyncio.create_task(self._consume()),
        ]
        try:
            await asyncio.wait(tasks + waits, return_when=asyncio.FIRST_COMPLETED)
            if self.output.overflowed.is_set():
                self.end("peer not reading")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.session.cancel(), CLOSE_LIMIT_S)
            elif self.session.closed:
                self.end("session closed")
            else:
                for task in tasks:
                    if task.done() and not task.cancelled() and task.exception() is not None:
                        log.warning("%s: transport task failed", self.id, exc_info=task.exception())
                self.end("disconnected")
            if self.session.closed:
                # The session may be shutting down inside a message handler (session.close): let it hand
                # over session.closed before anything is cancelled.
                await self.session.wait_events_sent()
        finally:
            for task in tasks + waits:
                task.cancel()
            await asyncio.gather(*tasks, *waits, return_exceptions=True)

    def end(self, reason: str) -> None:
        """Ask the call to end (idempotent; the first reason is kept)."""
        if not self._ended.is_set():
            self.end_reason = reason
            self._ended.set()

    async def close(self) -> None:
        """Flush what was said (bounded), stop speaking, free the registry slot. Idempotent."""
        if self._closed.is_set():
            return
        try:
            await self.stop_agent()  # before the flush: the last final must not start an answer
            await self.dialect.aclose()  # a conversation dialect's response in progress
            if self._opened and not self.session.closed:
                try:  # bounded: a stuck session must not keep the transport (ports, threads) alive
                    await asyncio.wait_for(self.session.close(self.end_reason), CLOSE_LIMIT_S)
                except TimeoutError:
                    log.error("%s: session did not close within %d s", self.id, CLOSE_LIMIT_S)
            if self.speaker is not None and self._owns_speaker:
                await self.speaker.aclose()
        finally:
            self._release()

    async def abort(self) -> None:
        """Free everything for a call that never got going (bad offer, bad config, server full)."""
        await self.stop_agent()
        await self.dialect.aclose()
        if self._opened and not self.session.closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.session.cancel(), CLOSE_LIMIT_S)
        if self.speaker is not None and self._owns_speaker:
            await self.speaker.aclose()
        self._release()

    def _release(self) -> None:
        if self._reserved:
            self.registry.release(self.session)
            self._reserved = False
        self._closed.set()

    async def wait_ended(self) -> None:
        await self._ended.wait()

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    async def wait_closed(self) -> None:
        await self._closed.wait()

    # --- client input ---------------------------------------------------------------------------------------

    def push_pcm16(self, data: bytes, *, max_frame: int) -> None:
        """A binary audio frame from the client; a bad one is answered with an ``error`` event."""
        try:
            if len(data) > max_frame:
                raise InvalidRequestError(
                    f"binary frame of {len(data)} bytes exceeds the {max_frame}-byte limit;"
                    " send 20-40 ms frames",
                    param="audio",
                    code="frame_too_large",
                )
            self.dialect.audio(data, self.session)
        except TheoError as exc:
            self._send_error(exc, None)

    async def dispatch(self, message: str | bytes) -> None:
        """Handle one client message now (a transport that reads in order, like the WebSocket)."""
        event_id: str | None = None
        try:
            if isinstance(message, bytes):
                raise InvalidRequestError(
                    "binary messages are not accepted here; audio travels on the audio track",
                    param="message",
                    code="invalid_event",
                )
            payload, event_id = parse_event(message, self._max_message_chars)
            agent = _MISSING
            if payload["type"] == "agent.tool_result" and self.dialect.name == "theo":
                self._tool_result(payload)
                return
            if payload["type"] == "session.configure" and self.dialect.name == "theo":
                agent = payload.pop("agent", _MISSING)  # the voice agent's part, applied after the session's
            if (agent is _MISSING or set(payload) - {"type", "event_id"}) and not await self.dialect.handle(
                payload, self.session
            ):
                self.end("client closed the session")
            if agent is not _MISSING:
                await self._configure_agent(agent)
        except TheoError as exc:
            self._send_error(exc, event_id)
        except Exception as exc:
            # A field of a type nobody checked (a list where a string belongs, an object for a number...):
            # the client hears about it and the call goes on. The dialects check what they know; this is
            # the backstop, so no message can end a call without an error event.
            log.warning("%s: client message failed", self.id, exc_info=True)
            code = (
                "invalid_value" if isinstance(exc, ValueError | TypeError | LookupError) else "internal_error"
            )
            self._send_error(
                InvalidRequestError(f"the message could not be applied: {_describe(exc)}", code=code),
                event_id,
            )

    def _tool_result(self, payload: dict[str, Any]) -> None:
        call_id, output = payload.get("call_id"), payload.get("output")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError("agent.tool_result needs 'call_id'", param="call_id")
        if not isinstance(output, str):
            output = json.dumps(output)
        if self.agent is None:
            raise InvalidRequestError("no agent is running", param="type")
        self.agent.tool_result(call_id, output[:MAX_TOOL_OUTPUT])

    async def _configure_agent(self, fields: object) -> None:
        """``session.configure`` ``agent``: an object starts the agent (or changes the running one's
        options, keeping its conversation); ``null``/``false`` stops it."""
        from theo_rtc.agent.defaults import options_for

        if fields is None or fields is False:
            await self.stop_agent()
            self.session.emit("agent.stopped")
            return
        if fields is True:
            fields = {}
        if not isinstance(fields, dict):
            raise InvalidRequestError("'agent' must be an object of agent options, or null", param="agent")
        if self.agent is not None:
            options = self.agent.options.updated(fields)
            self.agent.update(options)
            self._update_echo()
        else:
            options = await options_for(self.runtime, fields)
            await self.start_agent(options)
        self.session.emit("agent.configured", **_public(options))

    def post(self, message: str | bytes) -> None:
        """Queue a client message from a callback-driven transport (data channel, LiveKit data packet); a
        client that floods the inbox gets an error and the call ends."""
        if self._inbox.qsize() >= MAX_INBOX:
            self.output.send_raw(
                self.dialect.error("rate_limited", "too many messages waiting; the call is closed")
            )
            self.end("client flooded the event channel")
            return
        self._inbox.put_nowait(message)

    async def _consume(self) -> None:
        # The loop condition matters: asyncio.wait_for (3.11) can swallow a cancellation that lands as the
        # awaited task finishes, as the session's close does when it ends inside a handler (session.close).
        while not self.session.closed and not self._ended.is_set():
            await self.dispatch(await self._inbox.get())

    def _send_error(self, exc: TheoError, event_id: str | None) -> None:
        self.output.send_raw(
            self.dialect.error(exc.code or "invalid_request", exc.message, param=exc.param, event_id=event_id)
        )


def _describe(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__


class _Observed:
    """The session's output as the transport gets it, with the call's observers (the agent) seeing each
    event after the transport has: one order for everyone."""

    def __init__(self, output: CallOutput, observers: list[Callable[[dict[str, Any]], None]]) -> None:
        self._output = output
        self._observers = observers

    async def send_event(self, event: dict[str, Any]) -> None:
        try:
            await self._output.send_event(event)
        finally:
            for observer in list(self._observers):
                try:
                    observer(event)
                except Exception:
                    log.warning("an observer failed on %s", event.get("type"), exc_info=True)


def _public(options: AgentOptions) -> dict[str, Any]:
    """The options as the client may see them: endpoints without their keys."""
    import dataclasses

    fields = dataclasses.asdict(options)
    for name in ("llm", "fallback"):
        if fields[name] is not None:
            fields[name].pop("api_key", None)
    return {"options": fields}
