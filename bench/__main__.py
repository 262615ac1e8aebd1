"""Run every benchmark and write bench/RESULTS.md: one table of figures and ratios, the machine described.

    .venv/bin/python -m bench [--only load,batches] [--quick] [--set "stats=--students 1000000"]
                              [--out bench/RESULTS.md]

Each bench/*.py (not this file, common.py or gateway_variants.py) runs as its own process with
its defaults (`--quick` passes the small sizes each declares in QUICK below). Figures come from
the `RESULT {json}` lines a benchmark prints (bench/common.py `result()`); a benchmark that prints
none has its closing summary copied under the table. A failed benchmark is reported, not hidden.
"""

import argparse
import json
import math
import re
import shlex
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import git_commit, load_average, machine  # noqa: E402

HELPERS = {"__main__", "__init__", "common", "gateway_variants"}
# Small sizes for a quick look (`--quick`); unknown benchmarks run with their defaults.
QUICK = {
    "load": ["--rounds", "2"],
    "import_students": ["--rows", "10000", "--runs", "1"],
    "batches": ["--students", "5000", "--runs", "1"],
    "absences": ["--students", "10000", "--runs", "1"],
    "stats": ["--students", "100000", "--runs", "3"],
    "verification": ["--rows", "20000", "--runs", "1"],
    "rls": ["--students", "50000", "--rounds", "2", "--reps", "10"],
    "service_cost": ["--rounds", "2", "--seconds", "4"],
    "event_lag": ["--rates", "100,300", "--seconds", "5", "--students", "1000"],
    "bulk_fairness": ["--quick"],
}
TAIL = 45


def benchmarks(only: list[str] | None) -> list[Path]:
    found = sorted(p for p in (ROOT / "bench").glob("*.py") if p.stem not in HELPERS)
    return [p for p in found if not only or p.stem in only]


def run(path: Path, quick: bool, timeout: float, given: list[str] | None = None) -> dict:
    """Run one benchmark; return its figures, its summary and how it ended."""
    args = given if given is not None else QUICK.get(path.stem, []) if quick else []
    cmd = [sys.executable, str(path), *args]
    print(f"== {path.stem}: {' '.join(cmd[1:])}", flush=True)
    started = time.monotonic()
    lines: list[str] = []
    try:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        deadline = started + timeout
        for line in proc.stdout:
            print(line, end="", flush=True)
            lines.append(line.rstrip("\n"))
            if time.monotonic() > deadline:
                proc.kill()
                lines.append(f"(stopped after {timeout:.0f} s)")
                break
        code = proc.wait()
    except OSError as exc:
        code, lines = -1, [repr(exc)]
    figures = []
    for line in lines:
        if line.startswith("RESULT "):
            try:
                figures.append(json.loads(line.removeprefix("RESULT ")))
            except ValueError:
                pass
    summary = [line for line in lines if not line.startswith("RESULT ")][-TAIL:]
    if not figures:
        figures = [f for f in map(_ratio_line, summary) if f]
    return {
        "name": path.stem,
        "code": code,
        "seconds": time.monotonic() - started,
        "figures": figures,
        "summary": summary,
    }


RATIO_LINE = re.compile(
    r"^\s*(?P<figure>[^\d:(][^:]*?)\s*:?\s+(?P<value>\d[\d,]*(?:\.\d+)?)\s*(?P<unit>[a-zA-Z/]+)?\b"
    r".*?\bratio\s+(?P<ratio>\d+(?:\.\d+)?)"
)


def _ratio_line(line: str) -> dict | None:
    """Read a figure from a summary line that names its ratio (for benchmarks without RESULT lines)."""
    m = RATIO_LINE.match(line)
    if not m or m["figure"].lower().startswith("run"):
        return None
    return {
        "figure": m["figure"].strip(" .:"),
        "value": float(m["value"].replace(",", "")),
        "unit": m["unit"] or "",
        "ratio": float(m["ratio"]),
        "baseline": "ratio as its summary prints it",
    }


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if abs(value) < 10 else f"{value:.1f}"


TARGET = re.compile(r"(<=|>=|<|>)\s*(\d[\d,]*(?:\.\d+)?)\s*(ms|s)?\b")
SCALE = {"ms": 1.0, "s": 1000.0}


def met(figure: dict) -> bool | None:
    """Whether a figure meets its target: `>= 0.85` and `<= 5` judge the ratio when there is one,
    `p95 < 100 ms` or `< 30 s` judge the value (in the figure's own unit, ms or s); None without a
    target or a value."""
    m = TARGET.search(figure.get("target") or "")
    value = figure.get("value")
    if not m or value is None or value != value:  # no target, or nan
        return None
    op, bound, unit = m[1], float(m[2].replace(",", "")), m[3]
    if unit and figure.get("unit") in SCALE:
        value = value * SCALE[figure["unit"]] / SCALE[unit]
    elif not unit and figure.get("ratio") is not None:
        value = figure["ratio"]
    return {"<": value < bound, "<=": value <= bound, ">": value > bound, ">=": value >= bound}[op]


def _verdict(figure: dict) -> str:
    return {True: "met", False: "**not met**", None: ""}[met(figure)]


def _seconds(record: dict) -> float | None:
    """How long a benchmark ran, or None where its record does not say (RESULTS.json's records of the
    2026-12-06 12:38 run were carried over from before the file existed, with NaN in its place)."""
    value = record.get("seconds")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def write(results: list[dict], out: Path, quick: bool, given: dict[str, list[str]]) -> None:
    rows = [
        "| benchmark | figure | value | unit | ratio | baseline / note | target | |",
        "| --- | --- | ---: | --- | ---: | --- | --- | --- |",
    ]
    targets = ["| benchmark | figure | value | ratio | target | |", "| --- | --- | ---: | ---: | --- | --- |"]
    for r in results:
        for f in r["figures"]:
            cells = [r["name"], f["figure"], _fmt(f["value"]), f["unit"], _fmt(f.get("ratio"))]
            cells += [f.get("baseline", ""), f.get("target", ""), _verdict(f)]
            rows.append("| " + " | ".join(cells) + " |")
            if f.get("target"):
                value = f"{_fmt(f['value'])} {f['unit']}"
                cells = [r["name"], f["figure"], value, _fmt(f.get("ratio")), f["target"], _verdict(f)]
                targets.append("| " + " | ".join(cells) + " |")
        if not r["figures"]:
            rows.append(f"| {r['name']} | (see its summary below) | | | | | | |")
        if r["code"] != 0:
            failed = f"the run failed (exit {r['code']}): see its summary"
            targets.append(f"| {r['name']} | {failed} | | | | **not met** |")
    text = [
        "# Benchmark results",
        "",
        f"`make bench` ({'quick sizes' if quick else 'default sizes'}"
        + "".join(f"; {name}: `{' '.join(a)}`" for name, a in given.items())
        + "), "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {git_commit()}.",
        "",
        f"Machine: {machine()}. Load average at the end: {load_average()} "
        "(other work on the machine inflates latencies; ratios are measured in the same run).",
        "",
        "## Targets",
        "",
        "Every figure that has a target, and whether this run meets it (a ratio target judges the ratio, a",
        "time target the value). Where one is not met, the run's summary below and the profile in",
        "`bench/PROFILES.md` say why.",
        "",
        *targets,
        "",
        "## All figures",
        "",
        *rows,
        "",
        "## Runs",
        "",
    ]
    for r in results:
        state = "ok" if r["code"] == 0 else f"FAILED (exit {r['code']})"
        seconds = _seconds(r)
        took = "time not recorded" if seconds is None else f"{seconds:.0f} s"
        head = f"### {r['name']} — {state}, {took}, run {r.get('run', 'now')}"
        text += [head, "", "```", *r["summary"], "```", ""]
    out.write_text("\n".join(text))
    print(f"\nwrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", type=lambda s: s.split(","), default=None, help="comma-separated names")
    parser.add_argument("--quick", action="store_true", help="small sizes (see QUICK)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per benchmark")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "RESULTS.md")
    parser.add_argument(
        "--merge",
        action="store_true",
        help="keep the other benchmarks' figures of the last run (OUT with .json), each marked with its run",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help='arguments for one benchmark instead of its defaults, e.g. --set "stats=--students 1000000"',
    )
    args = parser.parse_args()
    given = {name: shlex.split(rest) for name, _, rest in (s.partition("=") for s in args.set)}
    results = [run(p, args.quick, args.timeout, given.get(p.stem)) for p in benchmarks(args.only)]
    kept = args.out.with_suffix(".json")
    if args.merge and kept.exists():  # the earlier run's other benchmarks, each marked with its run
        earlier = json.loads(kept.read_text())
        again = {r["name"] for r in results}
        results = sorted([r for r in earlier if r["name"] not in again] + results, key=lambda r: r["name"])
    for r in results:
        r.setdefault("run", f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, commit {git_commit()}")
        r["seconds"] = _seconds(r)  # null, not NaN (which is not JSON), where a record has none
    kept.write_text(json.dumps(results, ensure_ascii=False, indent=1))
    write(results, args.out, args.quick, given)
    sys.exit(0 if all(r["code"] == 0 for r in results) else 1)


if __name__ == "__main__":
    main()
