"""Audio preprocessing: decode, resample to 16 kHz mono, remove DC, normalise gain."""

from theo_rtc.preprocessing.dc_remove import DCRemover
from theo_rtc.preprocessing.decode import DecodedAudio, decode_audio
from theo_rtc.preprocessing.gain_normalize import GainNormalizer
from theo_rtc.preprocessing.pipeline import StreamPreprocessor, float_to_pcm16, pcm16_to_float, preprocess
from theo_rtc.preprocessing.resample import PCM16Resampler, Resampler

__all__ = [
    "DCRemover",
    "DecodedAudio",
    "GainNormalizer",
    "PCM16Resampler",
    "Resampler",
    "StreamPreprocessor",
    "decode_audio",
    "float_to_pcm16",
    "pcm16_to_float",
    "preprocess",
]
