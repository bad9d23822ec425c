"""Runtime settings: every option typed and defaulted here, overridable by ``THEO_*`` variables."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_home() -> Path:
    return Path.home() / ".theo"


class PreprocessingSettings(BaseSettings):
    """Stages of the audio preprocessing pipeline (seed §4.9). Resampling to 16 kHz mono is always on."""

    model_config = SettingsConfigDict(env_prefix="THEO_PREPROCESS_")

    dc_remove: bool = True
    gain_normalize: bool = True
    target_peak_dbfs: float = -3.0
    highpass_hz: float = 20.0


class TheoSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="THEO_", env_nested_delimiter="__")

    home: Path = Field(default_factory=_default_home, description="Model store and state directory.")
    host: str = "127.0.0.1"
    port: int = 8000

    default_stt_model: str = "whisper-tiny.en"
    preload_models: list[str] = Field(
        default_factory=list,
        description="Models whose workers start with the server (default: the default STT).",
    )

    max_upload_bytes: int = 25 * 1024 * 1024  # OpenAI's limit
    max_audio_seconds: float = 3600.0

    worker_start_timeout_s: float = 120.0
    worker_restart_backoff_s: float = 0.5
    worker_cpu_threads: int = 0  # 0 = engine decides
    worker_concurrency: int = 1  # requests in flight per worker; more queue by priority
    # TTS workers interleave requests sentence by sentence, so a second request gets its first audio
    # after one sentence of the first instead of after all of it (bench/tts.py).
    tts_worker_concurrency: int = 4

    max_sessions: int = 64  # streaming sessions at once; each holds a 60 s ring buffer (3.8 MB) and a VAD
    max_frame_bytes: int = 64 * 1024  # one binary WebSocket frame
    ws_send_queue: int = 2000  # events queued for a client before it is judged not to be reading

    pypi_index_url: str = "https://pypi.org/simple"
    npm_registry_url: str = "https://registry.npmjs.org"

    preprocessing: PreprocessingSettings = Field(default_factory=PreprocessingSettings)

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
