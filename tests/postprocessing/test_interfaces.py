"""``theo normalize`` and ``POST /v1/text/normalize``."""

from __future__ import annotations

import json

import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.postprocessing.conftest import requires_nemo
from theo_rtc.cli.normalize import register
from theo_rtc.postprocessing import PostProcessor
from theo_rtc.server.errors import install_error_handlers
from theo_rtc.server.routes.text import router


def _cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command("noop")  # a second command keeps typer from collapsing the app into its only command
    def _noop() -> None: ...

    return app


def _client() -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(router)
    return TestClient(app)


@requires_nemo
def test_cli_normalize(shared_processor: PostProcessor) -> None:
    result = CliRunner().invoke(
        _cli(), ["normalize", "fiz um pics de dez mil reais em dois mil e vinte e cinco", "--lang", "pt",
                 "--domain", "banking", "--hot-words", "PIX,TED,Selic"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "fiz um PIX de R$ 10.000,00 em 2025"


@requires_nemo
def test_cli_no_itn_and_json(shared_processor: PostProcessor) -> None:
    result = CliRunner().invoke(
        _cli(), ["normalize", "dois mil e vinte e cinco", "--lang", "pt", "--no-itn", "--json"]
    )
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    assert body["text"] == "dois mil e vinte e cinco"
    assert body["stages"]["itn"]["status"] == "disabled"


def test_cli_rejects_unknown_domain(shared_processor: PostProcessor) -> None:
    result = CliRunner().invoke(_cli(), ["normalize", "x", "--domain", "retail"])
    assert result.exit_code == 1


@requires_nemo
def test_http_normalize(shared_processor: PostProcessor) -> None:
    response = _client().post(
        "/v1/text/normalize",
        json={
            "text": "meu cpf é um dois três quatro cinco seis sete oito nove zero nove"
            " e a selique subiu dez por cento",
            "language": "pt-BR",
            "domain": "banking",
            "hot_words": ["Selic"],
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == "meu cpf é 123.456.789-09 e a Selic subiu 10%"
    assert body["language"] == "pt"
    assert set(body["stages"]) == {"entities", "itn", "hot_words"}
    assert all(stage["status"] == "ok" and stage["ms"] >= 0 for stage in body["stages"].values())
    assert body["hot_word_hits"] == ["Selic"]


def test_http_switches_and_string_hot_words(shared_processor: PostProcessor) -> None:
    response = _client().post(
        "/v1/text/normalize",
        json={"text": "fiz um pics de dez reais", "language": "pt", "itn": False, "entities": False,
              "hot_words": "PIX, TED"},
    )  # fmt: skip
    assert response.status_code == 200
    assert response.json()["text"] == "fiz um PIX de dez reais"


def test_http_errors_are_openai_shaped(shared_processor: PostProcessor) -> None:
    client = _client()
    response = client.post("/v1/text/normalize", json={"text": "x", "domain": "retail"})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "domain"
    assert response.json()["error"]["type"] == "invalid_request_error"
    response = client.post("/v1/text/normalize", json={"text": "x" * 100_001})
    assert response.status_code == 400 and response.json()["error"]["param"] == "text"
    response = client.post("/v1/text/normalize", json={"language": "pt"})
    assert response.status_code == 400


def test_http_empty_and_long_text(shared_processor: PostProcessor) -> None:
    client = _client()
    assert client.post("/v1/text/normalize", json={"text": ""}).json()["text"] == ""
    long = "o cliente pagou dez mil reais. " * 200
    response = client.post("/v1/text/normalize", json={"text": long, "language": "pt"})
    assert response.status_code == 200
    assert response.json()["text"].count("R$ 10.000,00") == 200
