"""Real phone calls on loopback: Redis + livekit-server + livekit-sip (the pinned builds of
``scripts/setup --dev``) on free ports, Theo's trunk and dispatch rule, and ``theo agent`` answering."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.livekit.client import AgentProcess, start_agent
from tests.livekit_rooms import _rooms_left_at_teardown  # noqa: F401 (autouse fixture)
from theo_rtc.transports.livekit import siptrunk
from theo_rtc.transports.livekit.sipserver import LocalTelephony, free_telephony_ports

CALLED = "+15550100"  # the trunk's number
GREETING = "Thank you for calling the harbour office. How can I help you today?"


@pytest.fixture(scope="session")
def telephony(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalTelephony]:
    stack = LocalTelephony(log_dir=tmp_path_factory.mktemp("telephony"), **free_telephony_ports())
    stack.start()
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def phone_setup(telephony: LocalTelephony) -> siptrunk.SetupResult:
    setup = siptrunk.PhoneSetup(numbers=(CALLED,), allowed_addresses=("127.0.0.1/32",), greeting=GREETING)
    return asyncio.run(siptrunk.apply_phone_setup(telephony.settings, setup))


@pytest.fixture(scope="session")
def phone_agent(
    telephony: LocalTelephony,
    phone_setup: siptrunk.SetupResult,
    theo_home: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AgentProcess]:
    # the greeting's voice is loaded before registering, like the STT model: the first call waits for nothing
    agent = start_agent(
        telephony.livekit,
        theo_home,
        tmp_path_factory.mktemp("agent") / "agent.log",
        extra=("--preload", "whisper-tiny.en", "--preload", "kokoro-82m"),
    )
    yield agent
    agent.stop()
