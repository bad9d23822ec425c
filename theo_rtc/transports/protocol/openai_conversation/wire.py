"""Wire details of conversation sessions: the beta protocol's event names, and ``conversation.item.truncate``.

Beta clients (``OpenAI-Beta: realtime=v1``) get the same events under their beta names
(``response.audio.delta``, ``response.audio_transcript.delta``, ``response.text.delta``,
``conversation.item.created``) and ``audio``/``text`` content types; GA's ``conversation.item.done`` has no
beta counterpart and is not sent.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from theo_rtc.errors import InvalidRequestError
from theo_rtc.transports.protocol.openai_conversation.items import ConversationItems
from theo_rtc.transports.protocol.openai_transcription import _integer
from theo_rtc.transports.sink import PlaybackResult

__all__ = ["BetaNames", "truncate"]

_BETA_EVENTS = {
    "conversation.item.added": "conversation.item.created",
    "response.output_audio.delta": "response.audio.delta",
    "response.output_audio.done": "response.audio.done",
    "response.output_audio_transcript.delta": "response.audio_transcript.delta",
    "response.output_audio_transcript.done": "response.audio_transcript.done",
    "response.output_text.delta": "response.text.delta",
    "response.output_text.done": "response.text.done",
}
_BETA_CONTENT = {"output_audio": "audio", "output_text": "text"}


class BetaNames:
    def translate(self, message: dict[str, Any]) -> list[dict[str, Any]]:
        kind = message["type"]
        if kind == "conversation.item.done":
            return []
        message = dict(message, type=_BETA_EVENTS.get(kind, kind))
        if isinstance(message.get("item"), dict):
            message["item"] = _beta_item(message["item"])
        if isinstance(message.get("response"), dict):
            response = dict(message["response"])
            response["modalities"] = (
                ["text", "audio"] if "audio" in response.pop("output_modalities", []) else ["text"]
            )
            response["output"] = [_beta_item(i) for i in response.get("output", [])]
            message["response"] = response
        return [message]


def _beta_item(item: dict[str, Any]) -> dict[str, Any]:
    if "content" not in item:
        return item
    content = [dict(p, type=_BETA_CONTENT.get(p.get("type"), p.get("type"))) for p in item["content"]]
    return dict(item, content=content)


def truncate(items: ConversationItems, message: dict[str, Any]) -> dict[str, Any]:
    """Cut an assistant audio item to the first ``audio_end_ms`` the client played; its transcript (what the
    LLM reads next) keeps the words heard. Returns the ``conversation.item.truncated`` event."""
    item = items.get(message.get("item_id"))
    index = _integer(message.get("content_index", 0), "content_index")
    end_ms = _integer(message.get("audio_end_ms"), "audio_end_ms")
    parts = item.get("content", [])
    if (
        item.get("role") != "assistant"
        or not 0 <= index < len(parts)
        or parts[index].get("type") != "output_audio"
    ):
        raise InvalidRequestError(
            "only an assistant message's audio content can be truncated",
            param="content_index",
            code="invalid_value",
        )
    state = items.state[item["id"]]
    if not 0 <= end_ms <= state.audio_ms:
        raise InvalidRequestError(
            f"Audio content of {state.audio_ms}ms is already shorter than {end_ms}ms",
            param="audio_end_ms",
            code="invalid_value",
        )
    heard = ""
    if state.utterance is not None:
        played = PlaybackResult(end_ms / 1000, state.audio_ms / 1000, interrupted=True)
        heard = dataclasses.replace(state.utterance, played=played).heard()
    parts[index]["transcript"] = heard
    state.audio_ms = end_ms
    return {
        "type": "conversation.item.truncated",
        "item_id": item["id"],
        "content_index": index,
        "audio_end_ms": end_ms,
    }
