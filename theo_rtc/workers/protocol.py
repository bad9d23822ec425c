"""Constants shared by worker subprocesses and the runtime that spawns them."""

READY_PREFIX = "THEO_WORKER_READY"
"""First stdout line of a worker once it serves: ``THEO_WORKER_READY port=N``."""

GRPC_OPTIONS = [("grpc.max_receive_message_length", 256 << 20), ("grpc.max_send_message_length", 256 << 20)]

TTS_ERROR_CODE_KEY = "theo-error-code"
TTS_ERROR_PARAM_KEY = "theo-error-param"
"""Trailing metadata of a TTS worker's INVALID_ARGUMENT: the OpenAI error code and param (unknown voice)."""
