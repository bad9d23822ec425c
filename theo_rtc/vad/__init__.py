"""Voice activity detection (energy pre-filter + Silero) run by the runtime, not the engine."""

from theo_rtc.vad.detector import SENSITIVITY, Sensitivity, VADEvent, VoiceActivityDetector
from theo_rtc.vad.energy import EnergyPreFilter

__all__ = ["SENSITIVITY", "EnergyPreFilter", "Sensitivity", "VADEvent", "VoiceActivityDetector"]
