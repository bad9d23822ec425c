"""Engine workers: subprocesses serving gRPC (STT, TTS) or HTTP (the LLM), their manager, clients."""

from theo_rtc.workers.manager import WorkerManager
from theo_rtc.workers.process import WorkerInfo, WorkerProcess, WorkerState
from theo_rtc.workers.stt_client import BatchStream, STTWorkerClient
from theo_rtc.workers.tts_client import TTSWorkerClient

__all__ = [
    "BatchStream",
    "STTWorkerClient",
    "TTSWorkerClient",
    "WorkerInfo",
    "WorkerManager",
    "WorkerProcess",
    "WorkerState",
]
