"""CPU of the processes under test (psutil, worker subprocesses included) and the machine's load per phase."""

from __future__ import annotations

import contextlib
import os
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import psutil


def own_cpu() -> float:
    """User + system CPU seconds of this process alone (the participants: livekit.rtc's FFI runs in it)."""
    t = psutil.Process().cpu_times()
    return float(t.user + t.system)


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and every live descendant."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system
    return total


class CpuMeter:
    """CPU seconds of named process trees between ``start()`` and ``stop()``, as cores (CPU s / wall s)."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self._before: dict[str, float] = {}
        self._started = 0.0

    def _now(self) -> dict[str, float]:
        return {name: tree_cpu(pid) for name, pid in self.pids.items()} | {"participants": own_cpu()}

    def start(self) -> None:
        self._before = self._now()
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._started
        return {name: (cpu - self._before[name]) / wall for name, cpu in self._now().items()}


class LoadMonitor(threading.Thread):
    """Every second: the 1-minute load average and the cores busy machine-wide, ours (this process and
    its descendants: livekit-server, theo agent, theo serve, their workers) and everyone else's."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.phase = "setup"
        self.samples: list[dict[str, Any]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        last_sys = psutil.cpu_times()
        last_ours = tree_cpu(os.getpid())
        last = time.monotonic()
        while not self._halt.wait(1.0):
            now = time.monotonic()
            sys_now = psutil.cpu_times()
            ours_now = tree_cpu(os.getpid())
            busy = (sum(sys_now) - sys_now.idle - getattr(sys_now, "iowait", 0.0)) - (
                sum(last_sys) - last_sys.idle - getattr(last_sys, "iowait", 0.0)
            )
            wall = now - last
            ours = max(0.0, ours_now - last_ours) / wall
            self.samples.append(
                {
                    "phase": self.phase,
                    "load1": os.getloadavg()[0],
                    "busy_cores": busy / wall,
                    "ours_cores": ours,
                    "others_cores": max(0.0, busy / wall - ours),
                }
            )
            last_sys, last_ours, last = sys_now, ours_now, now

    def stop(self) -> None:
        self._halt.set()
        self.join(5)

    def summary(self) -> dict[str, dict[str, float]]:
        out: dict[str, dict[str, float]] = {}
        for phase in dict.fromkeys(s["phase"] for s in self.samples):
            rows = [s for s in self.samples if s["phase"] == phase]
            out[phase] = {
                "seconds": len(rows),
                "load1_mean": statistics.mean(r["load1"] for r in rows),
                "load1_max": max(r["load1"] for r in rows),
                "busy_cores": statistics.mean(r["busy_cores"] for r in rows),
                "ours_cores": statistics.mean(r["ours_cores"] for r in rows),
                "others_cores": statistics.mean(r["others_cores"] for r in rows),
            }
        rows = self.samples
        if rows:
            out["whole run"] = {
                "seconds": len(rows),
                "load1_mean": statistics.mean(r["load1"] for r in rows),
                "load1_max": max(r["load1"] for r in rows),
                "busy_cores": statistics.mean(r["busy_cores"] for r in rows),
                "ours_cores": statistics.mean(r["ours_cores"] for r in rows),
                "others_cores": statistics.mean(r["others_cores"] for r in rows),
            }
        return out


@contextlib.contextmanager
def phase(monitor: LoadMonitor, name: str) -> Iterator[None]:
    monitor.phase = name
    started = time.monotonic()
    print(f"[{time.strftime('%H:%M:%S')}] {name} (load {os.getloadavg()[0]:.2f})", flush=True)
    yield
    print(f"  {name}: {time.monotonic() - started:.0f} s", flush=True)
