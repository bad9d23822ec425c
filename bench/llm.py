"""Local LLM: time to first token and tokens/s through Theo's managed runtime vs llama.cpp's own server.

    .venv/bin/python -m bench.llm [--models smollm2-135m,qwen2.5-coder-0.5b,qwen2.5-coder-1.5b]
                                  [--repeats 5] [--max-tokens 64] [--home ~/.theo]

Two paths per model, same run, same GGUF file, same settings (context, threads), requests alternating
between them so load on the machine hits both alike:
- llama.cpp: ``python -m llama_cpp.server`` started by this script, as its README says to run it;
- theo: :meth:`TheoRuntime.llm_endpoint`, the worker subprocess Theo starts, health-checks and restarts.

Each request is a voice agent's: a spoken-style system prompt and a short spoken question (a different
one per repeat, the same sequence on both paths), streamed with the official ``openai`` SDK, temperature
0. TTFT is request to first content delta; tokens/s is content deltas after the first (llama.cpp streams
one token per delta) over the time from the first to the last. One warm-up request per path first.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai

from bench.harness import free_port
from theo_rtc.config import TheoSettings
from theo_rtc.registry import ModelStore
from theo_rtc.runtime import TheoRuntime
from theo_rtc.workers.llm_worker import DEFAULT_CONTEXT, default_threads

SYSTEM = (
    "You are Theo, a voice assistant on a call. Speak the way people talk on the phone: one to three short "
    "sentences per turn, plain words, no lists, no markdown, no emoji."
)
MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")
QUESTIONS = (
    "Hi, what time does the pharmacy open on Saturdays?",
    "Can you tell me how to reset my password?",
    "I'd like to book a table for two tonight at eight.",
    "What is the weather usually like in Lisbon in May?",
    "My order hasn't arrived yet, what should I do?",
    "How long does it take to boil an egg?",
    "Could you remind me what my appointment is about?",
    "Which is bigger, the Atlantic or the Pacific ocean?",
)


@dataclass(frozen=True)
class Run:
    ttft: float  # seconds
    tokens: int
    decode_s: float  # first to last token

    @property
    def tokens_per_s(self) -> float:
        return (self.tokens - 1) / self.decode_s if self.decode_s > 0 and self.tokens > 1 else 0.0


async def one_request(client: openai.AsyncOpenAI, model: str, question: str, max_tokens: int) -> Run:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question}]
    start = time.perf_counter()
    first = last = 0.0
    tokens = 0
    stream = await client.chat.completions.create(
        model=model,
        messages=messages,  # type: ignore[arg-type]
        stream=True,
        max_tokens=max_tokens,
        temperature=0,
    )
    assert isinstance(stream, openai.AsyncStream)
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            last = time.perf_counter()
            first = first or last
            tokens += 1
    if not tokens:
        raise RuntimeError(f"{model}: empty answer to {question!r}")
    return Run(first - start, tokens, last - first)


class LlamaCppServer:
    """llama.cpp's own OpenAI-compatible server, as its documentation runs it, on a free loopback port."""

    def __init__(self, gguf: Path, alias: str, n_ctx: int, threads: int) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", alias,
             "--host", "127.0.0.1", "--port", str(self.port), "--n_ctx", str(n_ctx),
             "--n_threads", str(threads), "--n_threads_batch", str(threads), "--verbose", "False",
             "--interrupt_requests", "False"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self.base_url = f"http://127.0.0.1:{self.port}/v1"

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient() as http, asyncio.timeout(120):
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"llama_cpp.server exited with code {self.process.returncode}")
                try:
                    if (await http.get(f"{self.base_url}/models", timeout=5)).status_code == 200:
                        return
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def summary(runs: list[Run]) -> tuple[float, float]:
    """Median TTFT (ms) and median tokens/s."""
    return statistics.median(r.ttft for r in runs) * 1000, statistics.median(r.tokens_per_s for r in runs)


async def bench_model(runtime: TheoRuntime, model: str, repeats: int, max_tokens: int) -> dict[str, float]:
    installed = runtime.store.get(model)
    config = installed.manifest.engine_config
    threads = runtime.settings.worker_cpu_threads or int(config.get("n_threads", 0)) or default_threads()
    baseline = LlamaCppServer(
        installed.path / str(config["model_file"]), model, int(config.get("n_ctx", DEFAULT_CONTEXT)), threads
    )
    try:
        endpoint = await runtime.llm_endpoint(model)
        await baseline.wait_ready()
        clients = {
            "llama.cpp": openai.AsyncOpenAI(
                base_url=baseline.base_url, api_key="x", max_retries=0, timeout=300
            ),
            "theo": openai.AsyncOpenAI(base_url=endpoint.base_url, api_key="x", max_retries=0, timeout=300),
        }
        runs: dict[str, list[Run]] = {name: [] for name in clients}
        for client in clients.values():  # warm-up
            await one_request(client, model, "Hello!", 8)
        for i in range(repeats):
            question = QUESTIONS[i % len(QUESTIONS)]
            order = list(clients.items()) if i % 2 == 0 else list(reversed(clients.items()))
            for name, client in order:
                runs[name].append(await one_request(client, model, question, max_tokens))
        for client in clients.values():
            await client.close()
    finally:
        baseline.stop()
        worker = runtime.workers.get_running(model)
        if worker is not None:
            await worker.stop()  # one model in memory at a time besides the baseline
    base_ttft, base_tps = summary(runs["llama.cpp"])
    theo_ttft, theo_tps = summary(runs["theo"])
    return {
        "llama.cpp TTFT ms": base_ttft,
        "theo TTFT ms": theo_ttft,
        "TTFT ratio": theo_ttft / base_ttft,
        "llama.cpp tok/s": base_tps,
        "theo tok/s": theo_tps,
        "tok/s ratio": theo_tps / base_tps if base_tps else 0.0,
        "tokens": statistics.median(r.tokens for r in runs["theo"]),
        "threads": threads,
        "load": os.getloadavg()[0],  # other processes' CPU use skews both paths alike, not the ratio's sign
    }


async def _main(args: argparse.Namespace) -> None:
    settings = TheoSettings(home=args.home) if args.home else TheoSettings()
    store = ModelStore(settings)
    models = [m for m in args.models.split(",") if m]
    missing = [m for m in models if not store.is_installed(m)]
    if missing:
        sys.exit(f"not installed: {', '.join(missing)} (theo pull {' '.join(missing)})")
    print(
        f"{args.repeats} requests per path, max_tokens={args.max_tokens}, temperature 0, "
        f"{os.cpu_count()} CPUs"
    )
    header = ("model", "llama.cpp TTFT ms", "theo TTFT ms", "TTFT ratio", "llama.cpp tok/s", "theo tok/s",
              "tok/s ratio", "tokens", "threads", "load")  # fmt: skip
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    async with TheoRuntime(settings) as runtime:
        for model in models:
            row = await bench_model(runtime, model, args.repeats, args.max_tokens)
            cells = [f"{row[h]:.2f}" if h in ("TTFT ratio", "tok/s ratio") else f"{row[h]:.1f}" if h == "load"
                     else f"{row[h]:.0f}" for h in header[1:]]  # fmt: skip
            print(f"| {model} | " + " | ".join(cells) + " |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--home", type=Path, default=None, help="THEO_HOME (default: the usual one)")
    asyncio.run(_main(parser.parse_args()))


if __name__ == "__main__":
    main()
