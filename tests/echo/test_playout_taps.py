"""The sinks' playout taps, the echo canceller's far end: each observed sink reports what it plays with
when it plays, as one contiguous run per utterance, and says when a clear drops what was queued. The
assertions are on the stamps the sinks give (real pacing runs underneath, but no elapsed time is
checked)."""

from __future__ import annotations

import numpy as np
import pytest

from theo_rtc.preprocessing.echo import JITTER_S
from theo_rtc.transports.sink import WebSocketAudioSink
from theo_rtc.transports.webrtc.tracks import FRAME, RATE, PacedAudioTrack, PacedTrackSink


class Tap:
    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, int, float]] = []
        self.drops: list[float] = []

    def audio(self) -> np.ndarray:
        return np.concatenate([samples for samples, _, _ in self.chunks])

    def played(self, pcm16: np.ndarray, sample_rate: int, at: float) -> None:
        self.chunks.append((pcm16.copy(), sample_rate, at))

    def dropped(self, at: float) -> None:
        self.drops.append(at)


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype("<i2")


def assert_one_run(tap: Tap) -> None:
    """Each chunk starts where the one before it ended, on the sink's clock."""
    for (samples, rate, at), (_, _, next_at) in zip(tap.chunks, tap.chunks[1:], strict=False):
        assert abs(at + len(samples) / rate - next_at) < JITTER_S / 3


async def test_the_webrtc_track_reports_each_frame_as_it_leaves() -> None:
    track = PacedAudioTrack(buffer_ms=2000)
    sink = PacedTrackSink(track)
    tap = Tap()
    sink.add_playout_tap(tap)
    audio = tone(0.5)
    await sink.capture(audio.tobytes(), RATE)
    sink.flush()
    frames = [await track.recv() for _ in range(30)]  # 25 frames of audio, then filler silence
    assert len(tap.chunks) == 25 and all(rate == RATE for _, rate, _ in tap.chunks)
    assert np.array_equal(tap.audio(), audio), "the tap hears exactly what left"
    assert_one_run(tap)
    first_at = tap.chunks[0][2]
    assert first_at == track._start and frames[0].pts == 0  # stamped when due: the track's own schedule
    await sink.capture(tone(1.0).tobytes(), RATE)
    for _ in range(10):
        await track.recv()
    sink.clear()  # barge-in
    assert len(tap.drops) == 1 and len(tap.chunks) == 35
    track.stop()


async def test_a_livekit_source_stamps_each_frame_with_its_place_in_the_queue() -> None:
    pytest.importorskip("livekit.rtc")
    from theo_rtc.transports.livekit.sink import RoomAudioSink

    sink = RoomAudioSink.create(queue_ms=400)
    tap = Tap()
    sink.add_playout_tap(tap)
    audio = tone(1.0)
    before = sink.clock()
    await sink.capture(audio.tobytes(), RATE)  # returns once the rest fits in the 400 ms queue
    after = sink.clock()
    assert np.array_equal(tap.audio(), audio) and len(tap.chunks) == RATE // FRAME
    assert_one_run(tap)
    assert tap.chunks[0][2] == pytest.approx(before, abs=JITTER_S)  # the queue was empty: plays now
    assert tap.chunks[-1][2] > after, "the last frames play later: they wait behind the queue"
    sink.clear()
    assert len(tap.drops) == 1 and tap.drops[0] <= tap.chunks[-1][2]
    await sink.aclose()


async def test_a_websocket_sink_cannot_tap_what_the_client_plays() -> None:
    class Writer:
        async def send_audio(self, pcm16: bytes, sample_rate: int) -> None:
            pass

    sink = WebSocketAudioSink(Writer())
    assert not sink.taps_playout
    with pytest.raises(TypeError):
        sink.add_playout_tap(Tap())
