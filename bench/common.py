"""Helpers shared by the benchmarks: the machine, medians and percentiles, and result lines.

A benchmark prints `RESULT {json}` lines through `result()`; `python -m bench` collects them into
bench/RESULTS.md (a benchmark that prints none still gets its summary copied there).
"""

import json
import os
import platform
import statistics
import subprocess
import sys


def machine() -> str:
    """Describe the machine: CPU model, cores, memory, OS, Python."""
    cpu, mem = platform.processor() or "", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                    break
    except OSError:
        pass
    return (
        f"{os.cpu_count()} cores ({cpu or 'unknown CPU'}), {mem or '? GiB'} memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def load_average() -> str:
    """The 1-minute load average now (other work on the machine skews figures)."""
    try:
        return f"{os.getloadavg()[0]:.1f}"
    except OSError:
        return "?"


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0-100) by nearest rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def result(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    *,
    ratio: float | None = None,
    baseline: str | None = None,
    target: str | None = None,
) -> None:
    """Print one figure as a RESULT line for the bench index."""
    line = {"bench": bench, "figure": figure, "value": round(value, 3), "unit": unit}
    if ratio is not None:
        line["ratio"] = round(ratio, 3)
    if baseline:
        line["baseline"] = baseline
    if target:
        line["target"] = target
    print("RESULT " + json.dumps(line, ensure_ascii=False), flush=True)


def git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def python() -> str:
    return sys.executable
