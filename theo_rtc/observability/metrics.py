"""Prometheus metrics (seed §9). Defined once at import; exposed by ``GET /metrics``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)
_FAST_BUCKETS = (0.0001, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)

# --- batch STT -----------------------------------------------------------------------------------------
stt_requests_total = Counter(
    "theo_stt_requests_total", "Batch STT requests by endpoint and outcome", ["endpoint", "model", "status"]
)
stt_request_duration_seconds = Histogram(
    "theo_stt_request_duration_seconds",
    "Wall time of a batch STT request",
    ["endpoint", "model"],
    buckets=_LATENCY_BUCKETS,
)
stt_audio_seconds_total = Counter("theo_stt_audio_seconds_total", "Seconds of audio transcribed", ["model"])
stt_preprocessing_duration_seconds = Histogram(
    "theo_stt_preprocessing_duration_seconds",
    "Preprocessing time per request or frame",
    buckets=_FAST_BUCKETS,
)
stt_postprocessing_duration_seconds = Histogram(
    "theo_stt_postprocessing_duration_seconds",
    "Post-processing time per final segment, by stage",
    ["stage"],
    buckets=_FAST_BUCKETS,
)
stt_postprocessing_failures_total = Counter(
    "theo_stt_postprocessing_failures_total", "Post-processing stages that failed and were skipped", ["stage"]
)
stt_hot_word_hits_total = Counter(
    "theo_stt_hot_word_hits_total", "Hot-word corrections applied", ["hot_word"]
)
stt_confidence_avg = Gauge(
    "theo_stt_confidence_avg", "Mean word/segment confidence of the last transcription"
)
stt_no_speech_segments_total = Counter(
    "theo_stt_no_speech_segments_total", "Segments the engine judged to be no speech"
)
stt_language_detection_mismatches_total = Counter(
    "theo_stt_language_detection_mismatches_total", "Declared language differs from the detected one"
)

# --- text to speech -------------------------------------------------------------------------------------
tts_requests_total = Counter(
    "theo_tts_requests_total", "Speech synthesis requests by model and outcome", ["model", "status"]
)
tts_ttfb_seconds = Histogram(
    "theo_tts_ttfb_seconds",
    "Request start to first audio chunk from the worker",
    ["model"],
    buckets=_LATENCY_BUCKETS,
)
tts_audio_seconds_total = Counter("theo_tts_audio_seconds_total", "Seconds of audio synthesized", ["model"])
tts_characters_total = Counter("theo_tts_characters_total", "Input characters synthesized", ["model"])

# --- workers --------------------------------------------------------------------------------------------
worker_errors_total = Counter(
    "theo_stt_worker_errors_total", "Worker failures by model and kind", ["model", "kind"]
)
worker_restarts_total = Counter("theo_worker_restarts_total", "Worker processes restarted", ["model"])
workers_ready = Gauge("theo_workers_ready", "Workers ready to serve", ["model", "type"])

# --- streaming sessions ---------------------------------------------------------------------------------
stt_ttfb_seconds = Histogram(
    "theo_stt_ttfb_seconds", "Speech start to first partial transcript", buckets=_LATENCY_BUCKETS
)
stt_final_delay_seconds = Histogram(
    "theo_stt_final_delay_seconds", "VAD end of speech to final transcript", buckets=_LATENCY_BUCKETS
)
stt_active_sessions = Gauge("theo_stt_active_sessions", "Streaming sessions open now")
stt_session_duration_seconds = Histogram(
    "theo_stt_session_duration_seconds",
    "Streaming session lifetime",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
stt_vad_events_total = Counter("theo_stt_vad_events_total", "VAD events", ["event"])
stt_segments_force_committed_total = Counter(
    "theo_stt_segments_force_committed_total", "Segments committed because the ring buffer was 90% full"
)
stt_muted_frames_total = Counter("theo_stt_muted_frames_total", "Frames dropped by mute-on-speak")
stt_frames_dropped_total = Counter(
    "theo_stt_frames_dropped_total", "Frames dropped because of a backlog > 10 s"
)
stt_session_recoveries_total = Counter(
    "theo_stt_session_recoveries_total", "Streams resumed after a worker failure"
)
stt_early_finals_total = Counter(
    "theo_stt_early_finals_total",
    "Early finals: decodes asked for in a pause (prepared) and finals answered with one (used); "
    "prepared - used is the decodes wasted on pauses that did not end the turn",
    ["outcome"],
)

# --- voice agent ---
_AGENT_BUCKETS = (0.1, 0.2, 0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
agent_response_latency_seconds = Histogram(
    "theo_agent_response_latency_seconds",
    "End of the caller's speech (VAD) to the answer's first audio",
    buckets=_AGENT_BUCKETS,
)
agent_llm_ttft_seconds = Histogram(
    "theo_agent_llm_ttft_seconds", "LLM request to its first token", ["endpoint"], buckets=_AGENT_BUCKETS
)
agent_llm_failures_total = Counter(
    "theo_agent_llm_failures_total", "LLM requests that failed before their first token", ["endpoint"]
)
agent_barge_in_seconds = Histogram(
    "theo_agent_barge_in_seconds",
    "Caller speech confirmed to the answer's audio cleared",
    buckets=(0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5),
)
agent_turns_total = Counter("theo_agent_turns_total", "Caller turns the agent answered")
agent_interruptions_total = Counter("theo_agent_interruptions_total", "Answers cut by the caller's speech")
agent_false_interruptions_total = Counter(
    "theo_agent_false_interruptions_total", "Interruptions whose speech had no words (the answer resumed)"
)
agent_emergency_lines_total = Counter(
    "theo_agent_emergency_lines_total", "Answers replaced by the spoken line because no LLM answered"
)
agent_tool_calls_total = Counter("theo_agent_tool_calls_total", "Tool calls the LLM made", ["tool", "kind"])
