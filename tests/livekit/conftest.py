"""A real livekit-server (the pinned binary ``scripts/setup --dev`` builds) on free loopback ports.

One per test session, configured from the repo's ``livekit.yaml`` with the HTTP port and the ICE/UDP
range replaced by free ones. ICE/TCP stays off as in livekit.yaml: livekit-server would bind that port on
every interface, and this machine's servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.livekit_rooms import _rooms_left_at_teardown  # noqa: F401 (autouse fixture)
from theo_rtc.transports.livekit.devserver import LocalLiveKit, free_tcp_port, free_udp_range


@pytest.fixture(scope="session")
def livekit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalLiveKit]:
    """Yields the running server: ``url`` (ws://127.0.0.1:PORT), ``api_key``, ``api_secret``, ``settings``."""
    server = LocalLiveKit(
        port=free_tcp_port(),
        rtc_tcp_port=0,
        udp_port_range=free_udp_range(32),
        log_path=tmp_path_factory.mktemp("livekit") / "livekit-server.log",
    )
    server.start()
    yield server
    server.stop()
