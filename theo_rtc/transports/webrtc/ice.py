"""ICE for the embedded peer: which host addresses to offer, STUN/TURN servers, receive jitter depth.

aioice gathers host candidates from every interface except loopback and has no option to choose them.
A browser on the same machine (and the tests, which run in a loopback-only network namespace) can only
reach the server over 127.0.0.1, so Theo wraps aioice's address lookup once, narrowly: when the calling
context sets a host list (``host_addresses``), that list is used; otherwise aioice's own lookup runs
unchanged. The setting is per call, not global, so two peers in one process may use different lists.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer, RTCRtpReceiver
from aiortc.jitterbuffer import JitterBuffer

from theo_rtc.config import TheoSettings

_hosts: ContextVar[tuple[str, ...] | None] = ContextVar("theo_ice_hosts", default=None)
_original: Callable[[bool, bool], list[str]] | None = None


def _install() -> None:
    global _original
    if _original is not None:
        return
    _original = aioice.ice.get_host_addresses

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        chosen = _hosts.get()
        if chosen is None:
            assert _original is not None
            return _original(use_ipv4, use_ipv6)
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses


@contextlib.contextmanager
def host_addresses(addresses: Sequence[str]) -> Iterator[None]:
    """Offer exactly ``addresses`` as host candidates for peers gathering inside this block
    (``setLocalDescription``); an empty sequence keeps aioice's default (all non-loopback interfaces).
    Gathering runs in tasks created inside the block, which inherit the context variable."""
    _install()
    token = _hosts.set(tuple(addresses) if addresses else None)
    try:
        yield
    finally:
        _hosts.reset(token)


def rtc_configuration(settings: TheoSettings) -> RTCConfiguration:
    """No STUN by default (aiortc's default is Google's STUN server, which costs seconds when unreachable)."""
    servers = []
    for url in settings.webrtc_ice_servers:
        if url.startswith(("turn:", "turns:")):
            servers.append(
                RTCIceServer(
                    url, username=settings.webrtc_turn_username, credential=settings.webrtc_turn_password
                )
            )
        else:
            servers.append(RTCIceServer(url))
    return RTCConfiguration(iceServers=servers)


def set_jitter_frames(receiver: RTCRtpReceiver, frames: int) -> None:
    """Hold ``frames`` audio frames before decoding instead of aiortc's fixed 4 (80 ms).

    aiortc has no option for it; replace the (still empty) buffer before the first packet arrives,
    i.e. after ``setRemoteDescription`` and before ``setLocalDescription`` starts the transports.
    """
    attribute = "_RTCRtpReceiver__jitter_buffer"
    current = getattr(receiver, attribute, None)
    if isinstance(current, JitterBuffer) and receiver.track.kind == "audio":
        setattr(receiver, attribute, JitterBuffer(capacity=current.capacity, prefetch=frames))
