"""Post-processing benchmark: per-stage latency per segment and accuracy of NeMo alone vs Theo's pipeline.

    python bench/postprocessing.py [--repeat 5] [--show-diffs]

Cases are the spoken -> written table of ``tests/postprocessing/cases.py``. "NeMo alone" is NVIDIA's
InverseNormalizer (the same grammars Theo uses) applied to the whole text; "Theo" is entity formatting
-> ITN on number windows -> hot words. Latency is measured after warm-up with ITN's memo cleared before
every pass, so every segment pays for its NeMo calls; the target is <= 10 ms per final segment.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from theo_rtc.postprocessing import PostProcessingOptions, PostProcessor, nemo_installed  # noqa: E402


def _load_cases() -> ModuleType:
    spec = importlib.util.spec_from_file_location("pp_cases", REPO / "tests" / "postprocessing" / "cases.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5, help="timed passes over the table (default 5)")
    parser.add_argument("--show-diffs", action="store_true", help="print every case either side gets wrong")
    args = parser.parse_args()

    if not nemo_installed():
        print("nemo_text_processing is not installed: pip install '.[itn]'", file=sys.stderr)
        return 1
    cases = _load_cases().ALL_CASES
    processor = PostProcessor()
    started = time.perf_counter()
    processor.warm_up()
    print(f"warm-up (grammars from {processor.itn.cache_dir}): {time.perf_counter() - started:.1f} s")

    def nemo_alone(language: str, text: str) -> str:
        normalizer: Any = processor.itn._normalizer(language)
        return str(normalizer.inverse_normalize(text, verbose=False))

    def options(case: Any) -> PostProcessingOptions:
        return PostProcessingOptions(language=case.lang, domain=case.domain, hot_words=case.hot_words)

    # --- accuracy ---
    correct: dict[tuple[str, str], int] = defaultdict(int)
    totals: dict[str, int] = defaultdict(int)
    diffs: list[str] = []
    for case in cases:
        totals[case.lang] += 1
        nemo_out = nemo_alone(case.lang, case.spoken)
        theo_out = processor.process_text(case.spoken, options(case))
        correct[("nemo", case.lang)] += nemo_out == case.expected
        correct[("theo", case.lang)] += theo_out == case.expected
        if args.show_diffs and (nemo_out != case.expected or theo_out != case.expected):
            diffs.append(
                f"  [{case.lang}] {case.spoken!r}\n      want {case.expected!r}\n      nemo {nemo_out!r}"
                f"\n      theo {theo_out!r}" + (f"   (xfail: {case.xfail})" if case.xfail else "")
            )

    print("\nAccuracy on the table (exact match of the written form)")
    print(f"  {'lang':<6}{'cases':>7}{'NeMo alone':>14}{'Theo pipeline':>16}")
    for lang in sorted(totals):
        n = totals[lang]
        nemo_ok, theo_ok = correct[("nemo", lang)], correct[("theo", lang)]
        print(
            f"  {lang:<6}{n:>7}{nemo_ok:>6}/{n:<3} {nemo_ok / n:>4.0%}{theo_ok:>8}/{n:<3} {theo_ok / n:>4.0%}"
        )
    if diffs:
        print("\nCases either side gets wrong:")
        print("\n".join(diffs))

    # --- latency ---
    stage_ms: dict[str, list[float]] = defaultdict(list)
    total_ms: list[float] = []
    nemo_ms: list[float] = []
    for _ in range(args.repeat):
        processor.itn._memo.clear()
        for case in cases:
            t0 = time.perf_counter()
            result = processor.normalize(case.spoken, options(case))
            total_ms.append((time.perf_counter() - t0) * 1000)
            for stage, report in result.stages.items():
                if report.status == "ok":
                    stage_ms[stage].append(report.ms)
            t0 = time.perf_counter()
            nemo_alone(case.lang, case.spoken)
            nemo_ms.append((time.perf_counter() - t0) * 1000)

    print(f"\nLatency per final segment after warm-up, ms ({len(cases)} segments x {args.repeat} passes)")
    print(f"  {'':<22}{'mean':>8}{'p50':>8}{'p95':>8}{'max':>8}")
    rows = [(f"theo: {s}", stage_ms[s]) for s in ("entities", "itn", "hot_words")]
    rows += [("theo: total", total_ms), ("NeMo alone (sentence)", nemo_ms)]
    for name, values in rows:
        mean = statistics.fmean(values) if values else 0.0
        p50, p95, worst = _pct(values, 0.5), _pct(values, 0.95), max(values or [0.0])
        print(f"  {name:<22}{mean:>8.2f}{p50:>8.2f}{p95:>8.2f}{worst:>8.2f}")
    over = sum(v > 10 for v in total_ms)
    print(f"  segments over the 10 ms target: {over}/{len(total_ms)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
