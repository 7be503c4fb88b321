"""`make demo` from a fresh clone, quiet and with one CPU-bound background process (issue 20).

Each round clones this checkout's HEAD into a temporary folder and runs ``make demo`` there with the user
cache (``~/.cache/llmops-workbench``: the llama.cpp build, the model, the wheels) warm, as a data scientist's
second project would. The busy round keeps one CPU-bound Python process spinning for the whole run. Reports
the wall time of the whole command, of the demo itself (set-up excluded) and of every step the demo prints,
and the busy/quiet ratio (goal: at most 2). Rounds alternate quiet/busy; medians when ``--rounds`` > 1.

    .venv/bin/python benchmarks/bench_demo.py [--rounds 1] [--keep]

Takes two full demos per round (about 15-25 minutes each on 2 cores); not part of ``make bench-quick``.

``03_finetune`` trains a LoRA adapter only the first time a configuration is seen: the adapter is cached in the
user cache by its training configuration. So that every round trains, each round runs with its own cache folder
(``WORKBENCH_CACHE_DIR``) that links the user cache's heavy parts (the llama.cpp build, the model, the wheels,
the HF copy of the base) and starts without adapters and without running model servers (``FRESH``). Each
round's ``03_finetune`` therefore trains and starts its own model server, as on a data scientist's second
project. The busy/quiet ratio is also given over the steps other than fine-tuning (``same_work_steps``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import save, stats

ROOT = Path(__file__).resolve().parents[1]
STEPS_LINE = re.compile(r"^steps: (?P<steps>.*); total (?P<total>\d+)s")


@contextlib.contextmanager
def busy(n: int):
    """``n`` CPU-bound background processes for the duration of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        yield
    finally:
        for p in procs:
            p.kill()
            p.wait(timeout=30)


FRESH = {"adapters", "run"}  # what each round starts without: trained adapters, running model servers


def round_cache(work: Path) -> Path:
    """A cache folder for one round: the user cache's entries linked, less :data:`FRESH`."""
    sys.path.insert(0, str(ROOT))
    from workbench.config import cache_dir

    user, cache = cache_dir(), work / "cache"
    cache.mkdir()
    for entry in user.iterdir() if user.is_dir() else ():
        if entry.name not in FRESH:
            (cache / entry.name).symlink_to(entry)
    return cache


def verdict_lines(text: str) -> list[str]:
    """The demo's recommendation as it printed it (``recommendation.md``, one paragraph: the recommended candidate
    or "keep the baseline", then each candidate's verdict on quality/f1), so a faster round shows its verdict."""
    return [x.strip() for x in text.splitlines() if "Recommended: **" in x or "**Keep the baseline" in x]


def one_demo(label: str, background: int, keep: bool) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"wb-demo-{label}-"))
    clone = work / "repo"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True, timeout=300)
    log = work / "demo.log"
    cache = round_cache(work)
    env = {**os.environ, "WORKBENCH_CACHE_DIR": str(cache)}
    t0 = time.perf_counter()
    with busy(background), log.open("w") as out:
        proc = subprocess.run(["make", "demo"], cwd=clone, stdout=out, stderr=subprocess.STDOUT, timeout=3600, env=env)
    wall = time.perf_counter() - t0
    text = log.read_text(errors="replace")
    steps, demo_s = {}, None
    for line in text.splitlines():
        m = STEPS_LINE.match(line.strip())
        if m:
            demo_s = float(m.group("total"))
            for part in m.group("steps").split(", "):
                name, _, secs = part.rpartition(" ")
                steps[name] = float(secs.rstrip("s"))
    print(f"  {label:5s} make demo {wall:6.0f}s (exit {proc.returncode}); demo {demo_s}s; steps {steps}", flush=True)
    for line in verdict_lines(text):
        print(f"        {line}", flush=True)
    if proc.returncode:
        print(text[-3000:])
    trained = any((cache / "adapters").glob("*/training.json"))  # 03_finetune trained (FRESH: none to reuse)
    if not keep:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "make_demo_s": wall,
        "demo_s": demo_s,
        "setup_s": wall - demo_s if demo_s else None,
        "steps_s": steps,
        "returncode": proc.returncode,
        "background_processes": background,
        "trained": trained,
        "verdict": verdict_lines(text),
    }


def same_work_ratio(quiet: dict, busy: dict, exclude=("03_finetune",)) -> tuple[float, list[str]]:
    """busy/quiet over the steps both rounds ran, less ``exclude`` (work one round did and the other reused)."""
    steps = [s for s in quiet["steps_s"] if s in busy["steps_s"] and s not in exclude]
    return sum(busy["steps_s"][s] for s in steps) / sum(quiet["steps_s"][s] for s in steps), steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the clones and logs (printed paths)")
    a = ap.parse_args()
    runs: dict[str, list[dict]] = {"quiet": [], "busy": []}
    for r in range(a.rounds):
        for label in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
            runs[label].append(one_demo(label, 1 if label == "busy" else 0, a.keep))
    med = {
        k: {f: stats([x[f] for x in v if x[f] is not None])["median"] for f in ("make_demo_s", "demo_s")}
        for k, v in runs.items()
        if all(x["returncode"] == 0 for x in v)
    }
    out = {"rounds": a.rounds, "runs": runs, "median": med}
    if len(med) == 2:
        out["busy_over_quiet_demo"] = med["busy"]["demo_s"] / med["quiet"]["demo_s"]
        out["busy_over_quiet_make_demo"] = med["busy"]["make_demo_s"] / med["quiet"]["make_demo_s"]
        out["busy_over_quiet_same_work"], out["same_work_steps"] = same_work_ratio(runs["quiet"][0], runs["busy"][0])
        out["trained_in_every_round"] = all(
            "03_finetune" in x["steps_s"] and x["trained"] for v in runs.values() for x in v
        )
        out["step_ratios"] = {
            s: runs["busy"][0]["steps_s"][s] / runs["quiet"][0]["steps_s"][s]
            for s in runs["quiet"][0]["steps_s"]
            if s in runs["busy"][0]["steps_s"] and runs["quiet"][0]["steps_s"][s]
        }
        print(
            f"make demo, fresh clone, warm user cache: quiet {med['quiet']['make_demo_s']:.0f}s "
            f"(demo {med['quiet']['demo_s']:.0f}s), one busy process {med['busy']['make_demo_s']:.0f}s "
            f"(demo {med['busy']['demo_s']:.0f}s); busy/quiet demo {out['busy_over_quiet_demo']:.2f}, over the steps that "
            f"did the same work ({', '.join(out['same_work_steps'])}) {out['busy_over_quiet_same_work']:.2f} "
            f"(goal <= 2)"
        )
    save("demo", out)


if __name__ == "__main__":
    main()
