from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TranscribeOptions(_message.Message):
    __slots__ = ("language", "task", "initial_prompt", "temperature", "word_timestamps", "hot_words", "beam_size")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    INITIAL_PROMPT_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    WORD_TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    HOT_WORDS_FIELD_NUMBER: _ClassVar[int]
    BEAM_SIZE_FIELD_NUMBER: _ClassVar[int]
    language: str
    task: str
    initial_prompt: str
    temperature: float
    word_timestamps: bool
    hot_words: _containers.RepeatedScalarFieldContainer[str]
    beam_size: int
    def __init__(self, language: _Optional[str] = ..., task: _Optional[str] = ..., initial_prompt: _Optional[str] = ..., temperature: _Optional[float] = ..., word_timestamps: _Optional[bool] = ..., hot_words: _Optional[_Iterable[str]] = ..., beam_size: _Optional[int] = ...) -> None: ...

class TranscribeFileRequest(_message.Message):
    __slots__ = ("request_id", "options", "pcm16", "pcm16_path")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PCM16_FIELD_NUMBER: _ClassVar[int]
    PCM16_PATH_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    options: TranscribeOptions
    pcm16: bytes
    pcm16_path: str
    def __init__(self, request_id: _Optional[str] = ..., options: _Optional[_Union[TranscribeOptions, _Mapping]] = ..., pcm16: _Optional[bytes] = ..., pcm16_path: _Optional[str] = ...) -> None: ...

class Word(_message.Message):
    __slots__ = ("word", "start", "end", "probability")
    WORD_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    word: str
    start: float
    end: float
    probability: float
    def __init__(self, word: _Optional[str] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., probability: _Optional[float] = ...) -> None: ...

class Segment(_message.Message):
    __slots__ = ("id", "start", "end", "text", "tokens", "avg_logprob", "compression_ratio", "no_speech_prob", "temperature", "words")
    ID_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    TOKENS_FIELD_NUMBER: _ClassVar[int]
    AVG_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    COMPRESSION_RATIO_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_PROB_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    id: int
    start: float
    end: float
    text: str
    tokens: _containers.RepeatedScalarFieldContainer[int]
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    temperature: float
    words: _containers.RepeatedCompositeFieldContainer[Word]
    def __init__(self, id: _Optional[int] = ..., start: _Optional[float] = ..., end: _Optional[float] = ..., text: _Optional[str] = ..., tokens: _Optional[_Iterable[int]] = ..., avg_logprob: _Optional[float] = ..., compression_ratio: _Optional[float] = ..., no_speech_prob: _Optional[float] = ..., temperature: _Optional[float] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ...) -> None: ...

class TranscriptionInfo(_message.Message):
    __slots__ = ("language", "language_probability", "duration")
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_PROBABILITY_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    language: str
    language_probability: float
    duration: float
    def __init__(self, language: _Optional[str] = ..., language_probability: _Optional[float] = ..., duration: _Optional[float] = ...) -> None: ...

class TranscribeFileEvent(_message.Message):
    __slots__ = ("info", "segment")
    INFO_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_FIELD_NUMBER: _ClassVar[int]
    info: TranscriptionInfo
    segment: Segment
    def __init__(self, info: _Optional[_Union[TranscriptionInfo, _Mapping]] = ..., segment: _Optional[_Union[Segment, _Mapping]] = ...) -> None: ...

class AudioFrame(_message.Message):
    __slots__ = ("session_id", "pcm16", "decode", "commit", "reset", "options", "prepare")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PCM16_FIELD_NUMBER: _ClassVar[int]
    DECODE_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    OPTIONS_FIELD_NUMBER: _ClassVar[int]
    PREPARE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    pcm16: bytes
    decode: bool
    commit: bool
    reset: bool
    options: TranscribeOptions
    prepare: bool
    def __init__(self, session_id: _Optional[str] = ..., pcm16: _Optional[bytes] = ..., decode: _Optional[bool] = ..., commit: _Optional[bool] = ..., reset: _Optional[bool] = ..., options: _Optional[_Union[TranscribeOptions, _Mapping]] = ..., prepare: _Optional[bool] = ...) -> None: ...

class TranscriptEvent(_message.Message):
    __slots__ = ("session_id", "is_final", "text", "words", "window_seconds", "language", "avg_logprob", "no_speech_prob", "prepared")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    IS_FINAL_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    WORDS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_SECONDS_FIELD_NUMBER: _ClassVar[int]
    LANGUAGE_FIELD_NUMBER: _ClassVar[int]
    AVG_LOGPROB_FIELD_NUMBER: _ClassVar[int]
    NO_SPEECH_PROB_FIELD_NUMBER: _ClassVar[int]
    PREPARED_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    is_final: bool
    text: str
    words: _containers.RepeatedCompositeFieldContainer[Word]
    window_seconds: float
    language: str
    avg_logprob: float
    no_speech_prob: float
    prepared: bool
    def __init__(self, session_id: _Optional[str] = ..., is_final: _Optional[bool] = ..., text: _Optional[str] = ..., words: _Optional[_Iterable[_Union[Word, _Mapping]]] = ..., window_seconds: _Optional[float] = ..., language: _Optional[str] = ..., avg_logprob: _Optional[float] = ..., no_speech_prob: _Optional[float] = ..., prepared: _Optional[bool] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("request_id",)
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    def __init__(self, request_id: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "engine", "model", "details")
    class DetailsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    DETAILS_FIELD_NUMBER: _ClassVar[int]
    status: str
    engine: str
    model: str
    details: _containers.ScalarMap[str, str]
    def __init__(self, status: _Optional[str] = ..., engine: _Optional[str] = ..., model: _Optional[str] = ..., details: _Optional[_Mapping[str, str]] = ...) -> None: ...
