"""Small helpers over the LiveKit server API (``livekit-api``): join tokens, agent dispatches, rooms.

Every call takes a :class:`LiveKitSettings` (``LIVEKIT_URL`` / ``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``)
and turns transport failures and refusals into one-line :class:`LiveKitError` messages: a server that is
not running, a wrong secret (401), a bad request.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import aiohttp
from livekit import api as lkapi

from theo_rtc.transports.livekit.settings import LiveKitError, LiveKitSettings

DEFAULT_AGENT_NAME = "theo"
DEFAULT_TOKEN_TTL = timedelta(hours=6)
REQUEST_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class DispatchInfo:
    id: str
    agent_name: str
    room: str
    metadata: str
    jobs: int
    """Jobs the dispatch has started so far (0 until an agent worker with that name accepts it)."""


@dataclass(frozen=True)
class RoomSummary:
    name: str
    sid: str
    num_participants: int
    num_publishers: int
    created_at: datetime
    dispatches: tuple[DispatchInfo, ...]


def make_token(
    settings: LiveKitSettings,
    room: str,
    identity: str,
    *,
    ttl: timedelta = DEFAULT_TOKEN_TTL,
    name: str | None = None,
    metadata: str | None = None,
    grants: lkapi.VideoGrants | None = None,
) -> str:
    """A join token (JWT signed with the API secret) for ``identity`` in ``room``.

    Default grants: join the room, publish, subscribe, publish data. A negative ``ttl`` makes a token
    that has already expired (for tests).
    """
    if not room or not identity:
        raise LiveKitError("a join token needs a room and an identity")
    token = (
        lkapi.AccessToken(settings.api_key, settings.api_secret)
        .with_identity(identity)
        .with_ttl(ttl)
        .with_grants(grants or lkapi.VideoGrants(room_join=True, room=room))
    )
    if name:
        token.with_name(name)
    if metadata:
        token.with_metadata(metadata)
    return token.to_jwt()


def parse_metadata(text: str | None) -> str:
    """Dispatch metadata must be JSON; returns it compacted, or ``""`` for none."""
    if text is None or not text.strip():
        return ""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LiveKitError(
            f"--metadata is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@asynccontextmanager
async def _server(settings: LiveKitSettings) -> AsyncIterator[lkapi.LiveKitAPI]:
    """A LiveKitAPI client whose failures come out as one-line :class:`LiveKitError` messages."""
    where = settings.http_url
    try:
        client = lkapi.LiveKitAPI(
            settings.url,
            settings.api_key,
            settings.api_secret,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
            failover=False,
        )
    except ValueError as exc:
        raise LiveKitError(f"LiveKit settings: {exc}") from None
    try:
        yield client
    except lkapi.ServerError as exc:
        detail = f": {exc.message}" if exc.message else ""
        if exc.status == 401:
            raise LiveKitError(
                f"LiveKit server at {where} refused the API key/secret (HTTP 401{detail}); "
                "check LIVEKIT_API_KEY / LIVEKIT_API_SECRET (--api-key / --api-secret)"
            ) from None
        raise LiveKitError(f"LiveKit server at {where}: {exc.code} (HTTP {exc.status}){detail}") from None
    except aiohttp.InvalidURL:
        raise LiveKitError(f"invalid LiveKit URL {settings.url!r}") from None
    except (aiohttp.ClientConnectorError, ConnectionError) as exc:
        cause = exc.os_error if isinstance(exc, aiohttp.ClientConnectorError) else exc
        reason = "connection refused" if isinstance(cause, ConnectionRefusedError) else str(cause)
        raise LiveKitError(
            f"cannot reach a LiveKit server at {where} ({reason}); is it running? (`theo livekit dev`)"
        ) from None
    except (TimeoutError, aiohttp.ServerTimeoutError):
        raise LiveKitError(
            f"LiveKit server at {where} did not answer within {REQUEST_TIMEOUT_S:.0f} s"
        ) from None
    except aiohttp.ClientError as exc:
        raise LiveKitError(f"LiveKit server at {where}: {type(exc).__name__}: {exc}") from None
    finally:
        await client.aclose()


def _dispatch_info(d: lkapi.AgentDispatch) -> DispatchInfo:
    return DispatchInfo(
        id=d.id, agent_name=d.agent_name, room=d.room, metadata=d.metadata, jobs=len(d.state.jobs)
    )


async def room_exists(settings: LiveKitSettings, room: str) -> bool:
    async with _server(settings) as server:
        rooms = await server.room.list_rooms(lkapi.ListRoomsRequest(names=[room]))
    return any(r.name == room for r in rooms.rooms)


async def create_room(settings: LiveKitSettings, room: str) -> None:
    async with _server(settings) as server:
        await server.room.create_room(lkapi.CreateRoomRequest(name=room))


async def delete_room(settings: LiveKitSettings, room: str) -> None:
    async with _server(settings) as server:
        await server.room.delete_room(lkapi.DeleteRoomRequest(room=room))


async def create_dispatch(
    settings: LiveKitSettings, room: str, agent_name: str = DEFAULT_AGENT_NAME, metadata: str = ""
) -> DispatchInfo:
    """An explicit agent dispatch: asks the worker registered as ``agent_name`` to join ``room``.

    livekit-server creates a missing room for a dispatch only while ``room.auto_create`` is on (its
    default); callers that cannot rely on that create the room first (:func:`create_room`).
    """
    if not room:
        raise LiveKitError("a dispatch needs a room")
    request = lkapi.CreateAgentDispatchRequest(room=room, agent_name=agent_name, metadata=metadata)
    async with _server(settings) as server:
        return _dispatch_info(await server.agent_dispatch.create_dispatch(request))


async def list_dispatches(settings: LiveKitSettings, room: str) -> list[DispatchInfo]:
    async with _server(settings) as server:
        return [_dispatch_info(d) for d in await server.agent_dispatch.list_dispatch(room)]


JOINING_WINDOW_S = 15.0
"""How long a new dispatch counts as "Theo is on its way" before Theo's participant is in the room."""


async def live_dispatch(
    settings: LiveKitSettings,
    room: str,
    agent_name: str = DEFAULT_AGENT_NAME,
    *,
    joining_window_s: float = JOINING_WINDOW_S,
) -> DispatchInfo | None:
    """A dispatch of ``agent_name`` in ``room`` that has its agent in the room, or was created less than
    ``joining_window_s`` ago (the agent is on its way), so a second one would bring a second agent.

    The agent's participant is recognised by its kind and its ``lk.agent_name`` attribute: the job states
    in a dispatch are no guide (livekit-server fills them in late and keeps a job "running" after the
    agent left the room).
    """
    async with _server(settings) as server:
        dispatches = [
            d for d in await server.agent_dispatch.list_dispatch(room) if d.agent_name == agent_name
        ]
        if not dispatches:
            return None
        participants = (
            await server.room.list_participants(lkapi.ListParticipantsRequest(room=room))
        ).participants
    present = any(
        p.kind == lkapi.ParticipantInfo.Kind.AGENT and p.attributes.get("lk.agent_name") == agent_name
        for p in participants
    )
    newest = max(dispatches, key=lambda d: d.state.created_at)
    age_s = datetime.now(UTC).timestamp() - newest.state.created_at / 1e9
    return _dispatch_info(newest) if present or age_s < joining_window_s else None


async def list_rooms(
    settings: LiveKitSettings, agent_name: str | None = DEFAULT_AGENT_NAME
) -> list[RoomSummary]:
    """Active rooms with their participant counts and agent dispatches (only ``agent_name``'s, unless
    ``None``)."""
    summaries = []
    async with _server(settings) as server:
        rooms = (await server.room.list_rooms(lkapi.ListRoomsRequest())).rooms
        for room in sorted(rooms, key=lambda r: r.name):
            try:
                # Room.num_participants lags: livekit-server refreshes it every few seconds.
                participants = (
                    await server.room.list_participants(lkapi.ListParticipantsRequest(room=room.name))
                ).participants
                dispatches = await server.agent_dispatch.list_dispatch(room.name)
            except lkapi.ServerError as exc:
                # A room that closed between the calls: nobody answers for it any more.
                if exc.status == 404 or exc.code == lkapi.ServerErrorCode.UNAVAILABLE:
                    continue
                raise
            summaries.append(
                RoomSummary(
                    name=room.name,
                    sid=room.sid,
                    num_participants=len(participants),
                    num_publishers=sum(1 for p in participants if p.tracks),
                    created_at=datetime.fromtimestamp(room.creation_time, UTC),
                    dispatches=tuple(
                        _dispatch_info(d)
                        for d in dispatches
                        if agent_name is None or d.agent_name == agent_name
                    ),
                )
            )
    return summaries
