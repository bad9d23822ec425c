"""`theo agent` when LiveKit misbehaves: the server is down at start, restarts mid-call, a worker is SIGKILLed
mid-call. Each test runs its own livekit-server (so it can be stopped) on free loopback ports."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.evalsets import load_set, wer
from bench.livekit.client import (
    AgentProcess,
    Participant,
    dispatch,
    speech_48k,
    start_agent,
    wait_registered,
)
from theo_rtc.transports.livekit.devserver import LocalLiveKit, free_tcp_port, free_udp_range

UTTERANCES = load_set("librivox_pocketsphinx_en")


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[LocalLiveKit]:
    server = LocalLiveKit(
        port=free_tcp_port(), rtc_tcp_port=0, udp_port_range=free_udp_range(16), log_path=tmp_path / "lk.log"
    )
    yield server
    server.stop()


def sessions_left_open(agent: AgentProcess) -> set[str]:
    log = agent.log()
    opened = set(re.findall(r"session (sess_\w+) for ", log))
    closed = set(re.findall(r"session (sess_\w+) closed", log))
    return opened - closed


async def until_log(agent: AgentProcess, pattern: str, within: float = 60, count: int = 1) -> None:
    deadline = time.monotonic() + within
    while len(re.findall(pattern, agent.log())) < count:
        assert time.monotonic() < deadline, (
            f"{pattern!r} x{count} not in the agent's log:\n{agent.log()[-4000:]}"
        )
        await asyncio.sleep(0.2)


async def talk_once(server: LocalLiveKit, room: str, identity: str) -> dict[str, object]:
    person = Participant(identity)
    await person.join(server, room)
    await dispatch(server, room)
    await person.wait_for("session.created", 60)
    utterance = UTTERANCES[1]
    await person.say(speech_48k(utterance.path))
    final = await person.wait_for("transcript.final", 60)
    assert wer([utterance.text], [str(final["text"])]) <= 0.25, final
    await person.leave()
    return final


async def test_server_down_at_start_then_restarted_mid_call(
    own_server: LocalLiveKit, theo_home: Path, tmp_path: Path
) -> None:
    agent = start_agent(own_server, theo_home, tmp_path / "agent.log", wait=False)
    try:
        # nothing listens yet: the worker retries with back-off and says so
        await until_log(agent, r"failed to connect to livekit, retrying", within=90)
        assert agent.process.poll() is None
        own_server.start()
        wait_registered(agent)
        await talk_once(own_server, "restart-1", "grace")
        # a call in progress when the server goes away: the job ends cleanly, nothing leaks
        person = Participant("heidi")
        await person.join(own_server, "restart-2")
        await dispatch(own_server, "restart-2")
        await person.wait_for("session.created", 60)
        own_server.stop()
        await until_log(agent, r"left room restart-2", within=90)
        await until_log(agent, r"job \S+: room restart-2 done", within=30)
        assert not sessions_left_open(agent), sessions_left_open(agent)
        with pytest.raises(Exception):  # noqa: B017 - the participant's connection is gone too
            await asyncio.wait_for(person.room.local_participant.publish_data(b"x", topic="t"), 5)
        await person.leave()
        # the server comes back: the worker registers again and serves new rooms
        own_server.start()
        wait_registered(agent, count=2)
        await talk_once(own_server, "restart-3", "ivan")
        await until_log(agent, r"job \S+: room restart-3 done", within=30)
        assert not sessions_left_open(agent)
    finally:
        assert agent.stop() == 0, agent.log()[-3000:]


async def test_sigkilled_worker_mid_call_is_replaced_by_another(
    own_server: LocalLiveKit, theo_home: Path, tmp_path: Path
) -> None:
    own_server.start()
    first = start_agent(own_server, theo_home, tmp_path / "first.log")
    second = start_agent(own_server, theo_home, tmp_path / "second.log")
    try:
        person = Participant("judy")
        await person.join(own_server, "failover")
        await dispatch(own_server, "failover")
        created = await person.wait_for("session.created", 60)
        serving, standby = (first, second) if "joining room failover" in first.log() else (second, first)
        assert "joining room failover" in serving.log()
        serving.stop(signal.SIGKILL)
        # LiveKit notices the worker is gone and dispatches the job again, to the worker that is left
        await until_log(standby, r"joining room failover", within=120)
        again = await person.wait_for("session.created", 120, count=2)
        assert again["session_id"] != created["session_id"]
        utterance = UTTERANCES[2]
        await person.say(speech_48k(utterance.path))
        final = await person.wait_for("transcript.final", 60)
        assert final["session_id"] == again["session_id"]
        assert wer([utterance.text], [str(final["text"])]) <= 0.25, final
        await person.leave()
        await until_log(standby, r"left room failover", within=60)
        assert not sessions_left_open(standby)
    finally:
        first.stop()
        second.stop()
