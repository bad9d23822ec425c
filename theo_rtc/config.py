"""Runtime settings: every option typed and defaulted here, overridable by ``THEO_*`` variables."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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
    # Every other request body (text to normalize, SDP offers, speech requests): 413 past this.
    max_body_bytes: int = 1024 * 1024
    max_audio_seconds: float = 3600.0

    worker_start_timeout_s: float = 120.0
    worker_restart_backoff_s: float = 0.5
    worker_cpu_threads: int = 0  # 0 = engine decides
    worker_concurrency: int = 1  # requests in flight per worker; more queue by priority
    # TTS workers interleave requests sentence by sentence, so a second request gets its first audio
    # after one sentence of the first instead of after all of it (bench/tts.py).
    tts_worker_concurrency: int = 4
    # Deadlines and health (README "Deadlines, health and drain"): a worker call may take
    # floor + per_audio x (seconds of audio it carries); a worker missing `failures` health checks in a
    # row (one every `interval`, each answered within `timeout`) is marked unhealthy, killed, restarted.
    worker_deadline_floor_s: float = Field(default=30.0, gt=0)
    worker_deadline_per_audio_s: float = Field(default=2.0, ge=0)
    worker_health_interval_s: float = Field(default=5.0, ge=0)  # 0: no health checks
    worker_health_timeout_s: float = Field(default=3.0, gt=0)
    worker_health_failures: int = Field(default=3, ge=1)
    # SIGTERM: readiness 503 at once, new work refused, sessions flushed; REST requests still running after
    # this long are answered 503 and the process exits.
    shutdown_grace_s: float = Field(default=10.0, ge=0)

    max_sessions: int = 64  # streaming sessions at once; each holds a 60 s ring buffer (3.8 MB) and a VAD
    max_frame_bytes: int = 64 * 1024  # one binary WebSocket frame
    ws_send_queue: int = 2000  # events queued for a client before it is judged not to be reading

    # WebRTC (POST /v1/realtime/calls). aioice never offers loopback addresses, so a browser on this same
    # machine (and the tests) needs webrtc_ice_hosts=["127.0.0.1"]; empty = every non-loopback interface.
    webrtc_ice_hosts: list[str] = Field(
        default_factory=list, description="Addresses offered as ICE host candidates (default: all but lo)."
    )
    webrtc_ice_servers: list[str] = Field(
        default_factory=list,
        description="STUN/TURN URLs (stun:host:3478, turn:host:3478?transport=udp); none by default, "
        "as an unreachable STUN server delays every call by seconds.",
    )
    webrtc_turn_username: str | None = None
    webrtc_turn_password: str | None = None
    webrtc_jitter_frames: int = Field(default=1, ge=1, le=8)  # aiortc's 4 (80 ms) is for WANs; LAN needs 1
    webrtc_connect_timeout_s: float = 10.0  # a peer that never completes ICE/DTLS is freed after this
    # Offers not connected yet have their own budget (not max_sessions), so a flood of offers that never
    # complete ICE cannot lock established sessions out; past it they get a 503.
    webrtc_max_pending_offers: int = Field(default=8, ge=1)
    # Per client address (uvicorn resolves X-Forwarded-For from trusted proxies), a moving window in the
    # `limits` notation ("60/minute", "5/second"); past it an OpenAI-shaped 429. Empty: no limit.
    admission_offers_per_source: str = "60/minute"
    admission_websockets_per_source: str = "600/minute"
    webrtc_send_buffer_ms: int = 300  # TTS audio queued ahead of real time; bounds tts.cancel latency

    # The voice agent's LLM: any OpenAI-compatible chat-completions endpoint (llama.cpp, Ollama, vLLM,
    # OpenAI). Unset base URL: Theo's own local LLM runtime (``theo pull`` an LLM model). Per session, the
    # client's ``agent.start`` may override them.
    agent_llm_base_url: str | None = None
    agent_llm_model: str | None = None
    agent_llm_api_key: str | None = Field(default=None, repr=False)
    agent_llm_fallback_base_url: str | None = None
    agent_llm_fallback_model: str | None = None
    agent_llm_fallback_api_key: str | None = Field(default=None, repr=False)
    agent_instructions: str | None = None  # None: the persona for the session's language
    agent_greeting: str | None = None
    agent_tools_file: Path | None = None  # webhook tools (YAML/JSON list): name, description, parameters, url

    # Authentication and browser security (README, "Authentication and browser security"). No keys: nothing
    # is required, as suits a loopback server; lists are comma-separated in the environment.
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    api_keys_file: Path | None = None  # one key a line, # comments
    api_key_requests_per_minute: int = Field(default=600, ge=0)  # per key, sliding 60 s window; 0: no limit
    api_key_max_sessions: int = Field(default=16, ge=0)  # realtime sessions open at once per key; 0: no limit
    client_secret_ttl_s: int = Field(default=60, ge=10, le=7200)  # ephemeral ek_ secrets' default lifetime
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)  # "*": any origin
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)  # empty: loopback + --host
    demo_password: str | None = Field(default=None, repr=False)  # the web demo's login when keys are set

    pypi_index_url: str = "https://pypi.org/simple"
    npm_registry_url: str = "https://registry.npmjs.org"

    preprocessing: PreprocessingSettings = Field(default_factory=PreprocessingSettings)

    @field_validator("api_keys", "cors_origins", "allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [item.strip() for item in text.split(",") if item.strip()]
        return value

    @property
    def models_dir(self) -> Path:
        return self.home / "models"
