"""Re-dispatch rooms whose Theo worker died.

Self-hosted livekit-server does not restart a job whose worker vanished (``restart_policy`` is "cloud only"
in LiveKit's protocol, and the dispatch stays listed as active). So every ``theo agent`` watches its own
agent name's dispatches: a room that still has people in it, whose dispatch's job participant is no longer
in the room well after the job started, is dispatched again (metadata kept, marked ``replaces``), and
LiveKit sends the new job to a live worker. Watchers tick at jittered intervals and check for an existing
replacement before making one, so two workers do not both re-dispatch the same room.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from typing import Any

from livekit import api as lkapi
from livekit.protocol import agent_dispatch, models

from theo_rtc.transports.livekit.settings import LiveKitSettings

log = logging.getLogger("theo.agent")

__all__ = ["DispatchWatcher", "replacement_metadata"]


def replacement_metadata(metadata: str, replaces: str) -> str:
    """The old dispatch's session options, marked as replacing dispatch ``replaces``."""
    try:
        old: Any = json.loads(metadata) if metadata.strip() else {}
    except json.JSONDecodeError:
        old = {}
    session = old.get("session", old) if isinstance(old, dict) else {}
    if isinstance(session, dict):
        session = {k: v for k, v in session.items() if k != "replaces"}
    return json.dumps({"session": session, "replaces": replaces})


def _replaces(dispatch: agent_dispatch.AgentDispatch) -> str | None:
    try:
        value = json.loads(dispatch.metadata or "{}")
    except json.JSONDecodeError:
        return None
    return value.get("replaces") if isinstance(value, dict) else None


class DispatchWatcher:
    def __init__(
        self, settings: LiveKitSettings, agent_name: str, *, interval_s: float = 3.0, grace_s: float = 10.0
    ) -> None:
        self.settings = settings
        self.agent_name = agent_name
        self.interval_s = interval_s
        self.grace_s = grace_s  # a job this young may not have joined yet
        self.redispatched: list[str] = []

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s * random.uniform(0.5, 1.5))
            try:
                await self.check_once()
            except Exception as exc:  # the server may be down or restarting: try again next tick
                log.debug("dispatch watcher: %s", exc)

    async def check_once(self) -> list[str]:
        """Re-dispatch orphaned rooms now; returns their names."""
        done: list[str] = []
        async with lkapi.LiveKitAPI(
            self.settings.http_url, self.settings.api_key, self.settings.api_secret
        ) as lk:
            for room in (await lk.room.list_rooms(lkapi.ListRoomsRequest())).rooms:
                ours = [
                    d
                    for d in await lk.agent_dispatch.list_dispatch(room.name)
                    if d.agent_name == self.agent_name
                ]
                if not ours:
                    continue
                listed = await lk.room.list_participants(lkapi.ListParticipantsRequest(room=room.name))
                present = {p.identity for p in listed.participants}
                people = [p for p in listed.participants if p.kind != models.ParticipantInfo.Kind.AGENT]
                if not people:
                    continue
                replaced = {r for d in ours if (r := _replaces(d))}
                for dispatch in ours:
                    if dispatch.id in replaced or not self._orphaned(dispatch, present):
                        continue
                    await self._redispatch(lk, dispatch)
                    done.append(room.name)
        return done

    def _orphaned(self, dispatch: agent_dispatch.AgentDispatch, present: set[str]) -> bool:
        jobs = list(dispatch.state.jobs)
        if not jobs:
            return False  # not assigned yet: LiveKit is still looking for a worker
        now = time.time()
        for job in jobs:
            state = job.state
            if state.participant_identity and state.participant_identity in present:
                return False  # its agent is in the room
            started = state.started_at / 1e9 if state.started_at > 1e12 else float(state.started_at)
            if now - (started or now) < self.grace_s:
                return False
        return True

    async def _redispatch(self, lk: lkapi.LiveKitAPI, dispatch: agent_dispatch.AgentDispatch) -> None:
        log.warning(
            "room %s: the agent of dispatch %s is gone (its worker died?); dispatching it again",
            dispatch.room,
            dispatch.id,
        )
        await lk.agent_dispatch.create_dispatch(
            lkapi.CreateAgentDispatchRequest(
                agent_name=self.agent_name,
                room=dispatch.room,
                metadata=replacement_metadata(dispatch.metadata, dispatch.id),
            )
        )
        await lk.agent_dispatch.delete_dispatch(dispatch.id, dispatch.room)
        self.redispatched.append(dispatch.room)
