"""A `theo serve` for the WebRTC tests: ICE on 127.0.0.1 only (aioice never offers loopback by itself,
and tests must not touch the machine's real interfaces) and a short connect timeout so the
never-completes-ICE test is quick."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunningServer, start_server

WEBRTC_ENV = {
    "THEO_WEBRTC_ICE_HOSTS": '["127.0.0.1"]',
    "THEO_WEBRTC_CONNECT_TIMEOUT_S": "3",
    "THEO_MAX_SESSIONS": "60",
    # The offer bursts below measure what unconnected offers cost and free; the pending-offer budget and
    # per-source limits that bound them by default are tested in test_offer_flood.py.
    "THEO_WEBRTC_MAX_PENDING_OFFERS": "60",
    "THEO_ADMISSION_OFFERS_PER_SOURCE": "",
}


@pytest.fixture(scope="module")
def rtc_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    running = start_server(
        theo_home,
        tmp_path_factory.mktemp("rtc-server") / "server.log",
        preload=("whisper-tiny.en",),
        env=WEBRTC_ENV,
    )
    yield running
    running.stop()
