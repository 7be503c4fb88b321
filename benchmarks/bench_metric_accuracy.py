"""Accuracy of the offline honesty and harm detectors, old vs new, on tuning and held-out sets; their cost.

For each detector and each labelled set in ``datasets/calibration/`` (see its README for provenance):
``tune`` (thresholds and patterns were chosen on it), ``heldout`` (written before the new detectors, kept
out of tuning), ``fresh``, ``blind`` and ``blind2`` (each written after a freeze of the detectors, measured,
then used for the next round; see datasets/calibration/README.md). Prints accuracy, precision and
recall of the *problem* class (unsupported claim, refusal, toxic, PII) and accuracy per error class, for
the previous detector ("old") and the current one ("new"), plus ms/row.

* groundedness: old = ``VERIFIERS["similarity"]`` (v1), new = the default verifier; a claim is flagged
  when its score is below 1.
* refusal: old = ``REFUSAL_DETECTORS["pattern-v1"]``, new = the default.
* toxicity: old = alt-profanity-check >= 0.5 (what ``harm/toxicity`` was; now ``harm/profanity``), new =
  ``harm/toxicity`` >= 0.5.
* PII: per expected item, found (and gone after ``redact``); false positives are items found where none
  is expected. Old = ``workbench/pii.py`` as of ``BASE`` (read with ``git show``; skipped without git).
* PII leak: old = exact-substring comparison with the old detector, new = ``harm/pii_leak``.

Then the cost in a real evaluation: ``wb.evaluate`` of a callable candidate over 200 rows (offline
metrics, no MLflow logging), with the old detector functions swapped in vs the new ones; median of
``--repeats`` alternating runs, and the ratio (the issue's budget: at most 2x).

    .venv/bin/python benchmarks/bench_metric_accuracy.py [--rows 200] [--repeats 3]

**Per family and tier on a labelled directory** (issue 26; the format the blind sets use):

    .venv/bin/python benchmarks/bench_metric_accuracy.py --data DIR [--tiers screen,classifier,judge]
        [--judge local] [--judge-limit N] [--out results/NAME.json]

**The judge tier's time per row, quiet and busy** (``--judge-timing ROUNDS``): ROUNDS interleaved rounds, each
timing the judge on ``--judge-limit`` items per family (default 5) once alone and once beside one CPU-bound
neighbour process (a busy loop this script starts and ends), the order alternating; ms/row and the 1-minute
load average per round and condition, medians per condition, under ``judge_timing`` in ``--out``:

    .venv/bin/python benchmarks/bench_metric_accuracy.py --data calibration:heldout --judge local
        --judge-timing 3 --judge-limit 5 --out results/judge_timing.json

``DIR`` holds ``groundedness.jsonl`` (id, domain, context, question, answer, label grounded|ungrounded),
``refusal.jsonl`` (id, domain, prompt, response, label refusal|answer), ``toxicity.jsonl`` (id, domain, text,
label toxic|non_toxic) and optionally ``MANIFEST.sha256`` (checked, and its verdict reported). Every item goes
through the metric's own row function (the one ``wb.evaluate`` calls). The positive class is the problem:
ungrounded, refusal, toxic. Per family and tier: n, accuracy with its 95% Clopper-Pearson interval, precision,
recall, false-alarm rate, judge-error rate (a judge error counts as a wrong answer in accuracy), ms per row, and
accuracy per domain. ``--judge-limit N`` runs the judge tier on N items per family (spread evenly over the file);
``--data calibration:SET`` reads ``datasets/calibration/*_SET.jsonl`` converted to that format (training data:
the detectors were tuned on them). A relative ``--out`` is under ``benchmarks/``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "datasets" / "calibration"
BASE = "78e9cf4"  # main before issue 17: the detectors the new ones replace
SETS = ("tune", "heldout", "fresh", "blind", "blind2")


def load(name: str) -> list[dict]:
    path = DATA / f"{name}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def old_pii_module():
    """``workbench/pii.py`` at BASE as a module, or None (no git / no such commit)."""
    try:
        src = subprocess.run(
            ["git", "show", f"{BASE}:workbench/pii.py"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    mod = sys.modules["pii_v1"] = types.ModuleType("pii_v1")  # dataclasses look their module up
    exec(compile(src, f"{BASE}:workbench/pii.py", "exec"), mod.__dict__)  # exec: our own history
    return mod


@dataclasses.dataclass
class Score:
    """Confusion counts of one detector on one set, overall and per error class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    seconds: float = 0.0
    rows: int = 0
    by_class: dict = dataclasses.field(default_factory=lambda: defaultdict(lambda: [0, 0]))

    def add(self, predicted: bool, actual: bool, cls: str) -> None:
        self.tp += predicted and actual
        self.fp += predicted and not actual
        self.fn += actual and not predicted
        self.tn += not predicted and not actual
        self.by_class[cls][0] += predicted == actual
        self.by_class[cls][1] += 1

    def record(self) -> dict:
        n = self.tp + self.fp + self.fn + self.tn
        return {
            "n": n,
            "accuracy": (self.tp + self.tn) / n if n else None,
            "precision": self.tp / (self.tp + self.fp) if self.tp + self.fp else None,
            "recall": self.tp / (self.tp + self.fn) if self.tp + self.fn else None,
            "false_alarm_rate": self.fp / (self.fp + self.tn) if self.fp + self.tn else None,
            "ms_per_row": 1000 * self.seconds / max(1, self.rows),
            "by_class": {c: f"{a}/{b}" for c, (a, b) in sorted(self.by_class.items())},
        }


def run(items: list[dict], predict, label, cls=lambda it: it.get("class", "")) -> Score:
    s = Score()
    for it in items:
        t = time.perf_counter()
        p = predict(it)
        s.seconds += time.perf_counter() - t
        s.rows += 1
        s.add(bool(p), bool(label(it)), cls(it))
    return s


def pii_scores(items: list[dict], find, redact) -> dict:
    """Item recall (found and redacted), false positives, row accuracy, per class."""
    found = expected = fps = exact = 0
    by_class: dict = defaultdict(lambda: [0, 0])
    t = time.perf_counter()
    for it in items:
        got = [v for _, v in find(it["text"])]
        red = redact(it["text"])
        hit = [v for v in it["pii"] if v in got and v not in red]
        found, expected = found + len(hit), expected + len(it["pii"])
        fp = [v for v in got if v not in it["pii"]]
        fps += len(fp)
        ok = len(hit) == len(it["pii"]) and not fp
        exact += ok
        by_class[it["class"]][0] += ok
        by_class[it["class"]][1] += 1
    ms = 1000 * (time.perf_counter() - t) / max(1, len(items))
    return {
        "n": len(items),
        "item_recall": found / expected if expected else None,
        "false_positives": fps,
        "row_accuracy": exact / len(items) if items else None,
        "ms_per_row": ms,
        "by_class": {c: f"{a}/{b}" for c, (a, b) in sorted(by_class.items())},
    }


def fmt(x) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def print_table(title: str, results: dict) -> None:
    print(f"\n== {title}")
    for set_name, by_version in results.items():
        for version, r in by_version.items():
            if "item_recall" in r:
                print(
                    f"  {set_name:8s} {version:4s} n={r['n']:3d} item_recall {fmt(r['item_recall'])} "
                    f"false_pos {r['false_positives']:3d} row_acc {fmt(r['row_accuracy'])} "
                    f"{r['ms_per_row']:7.2f} ms/row"
                )
            else:
                print(
                    f"  {set_name:8s} {version:4s} n={r['n']:3d} acc {fmt(r['accuracy'])} prec "
                    f"{fmt(r['precision'])} recall {fmt(r['recall'])} false_alarm {fmt(r['false_alarm_rate'])} "
                    f"{r['ms_per_row']:7.2f} ms/row"
                )
            print(f"  {'':8s} {'':4s} per class: " + ", ".join(f"{c} {v}" for c, v in r["by_class"].items()))


def accuracy_section() -> dict:
    from workbench import pii
    from workbench.evaluate.metrics import harm, honesty
    from workbench.evaluate.runner import MetricEnv

    env, old_pii, out = MetricEnv(), old_pii_module(), {}

    def grounded(verifier):
        return lambda it: (
            honesty.groundedness_score(it["claim"], [it["context"]], env.embed, it.get("question"), verifier)[0] < 1.0
        )

    for it in [it for s in SETS for it in load(f"groundedness_{s}")]:
        honesty.groundedness_score(it["claim"], [it["context"]], env.embed)  # warm the embedding cache
    out["groundedness (flag = unsupported)"] = {
        s: {
            "old": run(load(f"groundedness_{s}"), grounded("similarity"), lambda it: not it["supported"]).record(),
            "new": run(
                load(f"groundedness_{s}"), grounded(honesty.DEFAULT_VERIFIER), lambda it: not it["supported"]
            ).record(),
        }
        for s in SETS
        if load(f"groundedness_{s}")
    }
    out["refusal"] = {
        s: {
            "old": run(
                load(f"refusal_{s}"), lambda it: harm.is_refusal(it["text"], "pattern-v1"), lambda it: it["refusal"]
            ).record(),
            "new": run(load(f"refusal_{s}"), lambda it: harm.is_refusal(it["text"]), lambda it: it["refusal"]).record(),
        }
        for s in SETS
        if load(f"refusal_{s}")
    }
    out["toxicity (old = profanity)"] = {
        s: {
            "old": run(
                load(f"toxicity_{s}"),
                lambda it: harm.profanity_score(it["text"]) >= harm.TOXIC_THRESHOLD,
                lambda it: it["toxic"],
            ).record(),
            "new": run(
                load(f"toxicity_{s}"),
                lambda it: harm.toxicity_score(it["text"]) >= harm.TOXIC_THRESHOLD,
                lambda it: it["toxic"],
            ).record(),
        }
        for s in SETS
        if load(f"toxicity_{s}")
    }
    out["pii detection + redaction"] = {
        s: {
            **({"old": pii_scores(load(f"pii_{s}"), old_pii.find_pii, old_pii.redact)} if old_pii else {}),
            "new": pii_scores(load(f"pii_{s}"), pii.find_pii, pii.redact),
        }
        for s in SETS
        if load(f"pii_{s}")
    }

    def old_leak(it):
        return any(v not in it["input"] for _, v in old_pii.find_pii(it["answer"]))

    out["pii_leak"] = {
        s: {
            **({"old": run(load(f"pii_leak_{s}"), old_leak, lambda it: it["leak"]).record()} if old_pii else {}),
            "new": run(
                load(f"pii_leak_{s}"),
                lambda it: bool(harm.leaked_pii(it["answer"], it["input"])),
                lambda it: it["leak"],
            ).record(),
        }
        for s in SETS
        if load(f"pii_leak_{s}")
    }
    for title, res in out.items():
        print_table(title, res)
    return out


def eval_section(rows: int, repeats: int) -> dict:
    """wb.evaluate of a callable over ``rows`` rows: old detector functions swapped in vs the new ones."""
    import pandas as pd

    import workbench as wb
    from workbench.evaluate.metrics import METRICS, get_metrics, harm, honesty

    get_metrics()
    old_pii = old_pii_module()
    items = load("groundedness_heldout") + load("refusal_heldout") + load("toxicity_heldout")
    ctx = load("groundedness_heldout")
    data = []
    for i in range(rows):
        it, c = items[i % len(items)], ctx[i % len(ctx)]
        data.append(
            {
                "id": f"r{i}",
                "question": c.get("question") or "What does the manual say?",
                "contexts": [c["context"]],
                "reference": c["claim"],
                "answer": f"{it.get('claim') or it.get('text')} {c['claim']}",
            }
        )
    df = pd.DataFrame(data)

    def candidate(row):
        return row["answer"]

    new_fns = {n: METRICS[n].fn for n in ("honesty/groundedness", "harm/refusal", "harm/toxicity", "harm/pii_leak")}

    def old_groundedness(row, answer, env):
        ctx_ = answer.contexts or row.get("contexts")
        return (
            None
            if not ctx_ or answer.error
            else honesty.groundedness_score(answer.text, list(ctx_), env.embed, verifier="similarity")
        )

    old_fns = {
        "honesty/groundedness": old_groundedness,
        "harm/refusal": lambda row, a, env: float(harm.is_refusal(a.text, "pattern-v1")),
        "harm/toxicity": lambda row, a, env: harm.profanity_score(a.text),
    }
    if old_pii:
        old_fns["harm/pii_leak"] = lambda row, a, env: float(
            any(v not in harm._input_text(row) for _, v in old_pii.find_pii(a.text))
        )

    def swap(fns):
        for n, fn in fns.items():
            METRICS[n] = dataclasses.replace(METRICS[n], fn=fn)

    times: dict = {"old": [], "new": []}
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-acc-"))
    metric_sets = {"honesty+harm": ["honesty/groundedness", "harm"], "all offline": None}
    out = {}
    for label, metrics in metric_sets.items():
        times = {"old": [], "new": []}
        for r in range(repeats):
            for version, fns in (("old", old_fns), ("new", new_fns)):
                swap(fns)
                t = time.perf_counter()
                wb.evaluate(
                    df,
                    candidate,
                    metrics=metrics,
                    log=False,
                    progress=False,
                    cache="off",
                    checkpoint=tmp / f"{label}-{version}-{r}.jsonl".replace(" ", "_"),
                )
                times[version].append(time.perf_counter() - t)
        swap(new_fns)
        old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
        out[label] = {
            "rows": rows,
            "old_s": old_s,
            "new_s": new_s,
            "ratio_new_over_old": new_s / old_s,
            "old_ms_per_row": 1000 * old_s / rows,
            "new_ms_per_row": 1000 * new_s / rows,
            "runs": times,
        }
        print(
            f"  wb.evaluate {rows} rows, metrics={label}: old {old_s:.2f} s ({1000 * old_s / rows:.1f} ms/row), "
            f"new {new_s:.2f} s ({1000 * new_s / rows:.1f} ms/row), new/old {new_s / old_s:.2f}x "
            f"(median of {repeats}; {os.cpu_count()} CPUs)"
        )
    return out


def redact_section(repeats: int) -> dict:
    """ms per ``redact`` call, old vs new, on prose, a chat payload and a long run of numbers (a vector)."""
    import random

    from workbench import pii

    old_pii, rng = old_pii_module(), random.Random(0)
    manual = next((ROOT / "datasets" / "contoso" / "manuals").glob("*.md")).read_text()
    payloads = {
        "manual (prose)": manual,
        "chat payload with PII": '{"content": "my phone is +44 20 7946 0958, card 4111 1111 1111 1111."}',
        "3,000 floats (a vector)": " ".join(f"{rng.random():.6f}" for _ in range(3000)),
    }
    out = {}
    for name, text in payloads.items():
        row = {}
        for version, mod in (("old", old_pii), ("new", pii)):
            if mod is None:
                continue
            times = []
            for _ in range(repeats):
                t = time.perf_counter()
                mod.redact(text)
                times.append(1000 * (time.perf_counter() - t))
            row[version] = statistics.median(times)
        out[name] = {"chars": len(text), **{f"{v}_ms": ms for v, ms in row.items()}}
        print(f"  redact {name} ({len(text)} chars): " + ", ".join(f"{v} {ms:.2f} ms" for v, ms in row.items()))
    return out


# --- per family and tier, on a labelled directory ---------------------------------------------------------

FAMILIES = {  # family -> (metric detector, label field value of the positive (problem) class)
    "groundedness": ("honesty/groundedness", "ungrounded"),
    "refusal": ("harm/refusal", "refusal"),
    "toxicity": ("harm/toxicity", "toxic"),
}
LABELS = {
    "groundedness": {"grounded", "ungrounded"},
    "refusal": {"refusal", "answer"},
    "toxicity": {"toxic", "non_toxic"},
}


def read_labelled(path: Path, family: str) -> list[dict]:
    """The items of one family file; a bad line is a clear error (file, line, what was expected)."""
    items = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            it = json.loads(line)
        except ValueError as e:
            raise SystemExit(f"{path}:{n}: not JSON ({e})") from None
        if it.get("label") not in LABELS[family]:
            raise SystemExit(f"{path}:{n}: label must be one of {sorted(LABELS[family])}, got {it.get('label')!r}")
        items.append(it)
    return items


def check_manifest(root: Path) -> str:
    """'ok', 'absent', or which files differ from MANIFEST.sha256."""
    import hashlib

    man = root / "MANIFEST.sha256"
    if not man.is_file():
        return "absent"
    bad = []
    for line in man.read_text().splitlines():
        if not line.strip():
            continue
        digest, _, name = line.strip().partition(" ")
        f = root / name.strip().lstrip("*")
        if not f.is_file() or hashlib.sha256(f.read_bytes()).hexdigest() != digest:
            bad.append(name.strip())
    return "ok" if not bad else "mismatch: " + ", ".join(bad)


def calibration_dir(set_name: str) -> Path:
    """``datasets/calibration/*_<set>.jsonl`` converted to the labelled-directory format (a temp dir)."""
    out = Path(tempfile.mkdtemp(prefix=f"wb-cal-{set_name}-"))
    conv = {
        "groundedness": lambda it: {
            "id": it["id"],
            "domain": "contoso",
            "context": it["context"],
            "question": it.get("question") or "",
            "answer": it["claim"],
            "label": "grounded" if it["supported"] else "ungrounded",
        },
        "refusal": lambda it: {
            "id": it["id"],
            "domain": "contoso",
            "prompt": "",
            "response": it["text"],
            "label": "refusal" if it["refusal"] else "answer",
        },
        "toxicity": lambda it: {
            "id": it["id"],
            "domain": "contoso",
            "text": it["text"],
            "label": "toxic" if it["toxic"] else "non_toxic",
        },
    }
    for fam, fn in conv.items():
        rows = load(f"{fam}_{set_name}")
        if rows:
            (out / f"{fam}.jsonl").write_text("".join(json.dumps(fn(r)) + "\n" for r in rows))
    return out


def _row_and_answer(family: str, it: dict):
    from workbench.candidates import Answer

    if family == "groundedness":
        return (
            {"id": it["id"], "question": it.get("question") or "", "contexts": [it["context"]]},
            Answer(text=it["answer"], contexts=[it["context"]]),
        )
    if family == "refusal":
        return {"id": it["id"], "question": it.get("prompt") or ""}, Answer(text=it["response"])
    return {"id": it["id"], "question": ""}, Answer(text=it["text"])


def _flagged(family: str, value: float) -> bool:
    return value < 1.0 if family == "groundedness" else value >= 0.5


def spread(items: list[dict], limit: int | None) -> list[dict]:
    """``limit`` items taken evenly across the list (all when None)."""
    if limit is None or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def score_tier(family: str, items: list[dict], mdef, env) -> dict:
    """Confusion counts, accuracy with its 95% CI, precision, recall, judge errors, ms/row, per domain."""
    import inspect

    from workbench.evaluate.stats import ci
    from workbench.llm.client import run_sync  # one event loop for every call (the judge's client lives on it)

    positive = FAMILIES[family][1]
    tp = fp = fn = tn = errors = 0
    correct, by_domain, seconds, wrong = [], defaultdict(lambda: [0, 0]), 0.0, []
    for it in items:
        row, answer = _row_and_answer(family, it)
        t = time.perf_counter()
        out = mdef.fn(row, answer, env)
        if inspect.isawaitable(out):
            out = run_sync(out)
        seconds += time.perf_counter() - t
        value = out[0] if isinstance(out, tuple) else out
        actual = it["label"] == positive
        if value is None:
            errors += 1
            ok = False
        else:
            pred = _flagged(family, float(value))
            tp, fp = tp + (pred and actual), fp + (pred and not actual)
            fn, tn = fn + (actual and not pred), tn + (not pred and not actual)
            ok = pred == actual
        correct.append(float(ok))
        if not ok:
            wrong.append(it["id"])
        d = by_domain[it.get("domain") or "?"]
        d[0], d[1] = d[0] + ok, d[1] + 1
    n = len(items)
    lo, hi, _ = ci(correct, binary=True) if n else (None, None, None)
    return {
        "metric": mdef.name,
        "tier": mdef.tier,
        "n": n,
        "accuracy": sum(correct) / n if n else None,
        "accuracy_ci95": [lo, hi],
        "precision": tp / (tp + fp) if tp + fp else None,
        "recall": tp / (tp + fn) if tp + fn else None,
        "false_alarm_rate": fp / (fp + tn) if fp + tn else None,
        "judge_error_rate": errors / n if n else None,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "ms_per_row": 1000 * seconds / max(1, n),
        "by_domain": {k: f"{a}/{b}" for k, (a, b) in sorted(by_domain.items())},
        "wrong_ids": wrong,
    }


def tier_section(data: str, tier_names: list[str], judge: str | None, judge_limit: int | None) -> dict:
    """Accuracy per family and tier on a labelled directory (see the module docstring)."""
    from workbench.evaluate.judge import Judge
    from workbench.evaluate.metrics import tiers
    from workbench.evaluate.runner import MetricEnv
    from workbench.llm.client import LLMClient

    root = calibration_dir(data.split(":", 1)[1]) if data.startswith("calibration:") else Path(data)
    if not root.is_dir():
        raise SystemExit(f"--data {data}: not a directory")
    env = MetricEnv(judge=Judge(judge, LLMClient(cache="use")) if judge and "judge" in tier_names else None)
    out = {
        "data": str(data),
        "manifest": check_manifest(root),
        "judge": judge if "judge" in tier_names else None,
        "load_avg_1m_start": os.getloadavg()[0],
        "families": {},
    }
    table = tiers()
    for family, (detector, _) in FAMILIES.items():
        path = root / f"{family}.jsonl"
        if not path.is_file():
            continue
        items = read_labelled(path, family)
        fam = out["families"][family] = {}
        for tier in tier_names:
            name = table.get(detector, {}).get(tier)
            if name is None or (tier == "judge" and env.judge is None):
                continue
            from workbench.evaluate.metrics import METRICS

            sub = spread(items, judge_limit) if tier == "judge" else items
            r = fam[tier] = score_tier(family, sub, METRICS[name], env)
            lo, hi = r["accuracy_ci95"]
            print(
                f"  {family:13s} {tier:10s} n={r['n']:4d} acc {fmt(r['accuracy'])} [{fmt(lo)}, {fmt(hi)}] "
                f"prec {fmt(r['precision'])} recall {fmt(r['recall'])} false_alarm {fmt(r['false_alarm_rate'])} "
                f"judge_err {fmt(r['judge_error_rate'])} {r['ms_per_row']:8.1f} ms/row",
                flush=True,
            )
    out["load_avg_1m_end"] = os.getloadavg()[0]
    return out


def _neighbour(seconds: float) -> subprocess.Popen:
    """One CPU-bound neighbour process (a busy loop that ends itself after ``seconds``)."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end:\n    pass\n"
    return subprocess.Popen([sys.executable, "-c", code])


def judge_timing_section(data: str, judge: str, per_family: int, rounds: int) -> dict:
    """The judge tier's ms per row quiet and busy (one CPU-bound neighbour process), in interleaved rounds:
    each round runs both conditions, the order alternating (quiet-busy, busy-quiet, ...), so drift in the
    machine's load hits both alike. Every run (round x condition) judges its own ``per_family`` items of
    each family, never seen by the server before (its prompt cache would make a repeated item nearly free;
    ``items_reused`` says when the files were too short for that). Per run: ms/row and the 1-minute load
    average before and after; per condition the median."""
    from workbench.evaluate.judge import Judge
    from workbench.evaluate.metrics import METRICS, tiers
    from workbench.evaluate.runner import MetricEnv
    from workbench.llm.client import LLMClient

    root = calibration_dir(data.split(":", 1)[1]) if data.startswith("calibration:") else Path(data)
    env = MetricEnv(judge=Judge(judge, LLMClient(cache="off")))  # no response cache: every call reaches the model
    need, work, reused = per_family * 2 * rounds + 1, [], False
    for family, (detector, _) in FAMILIES.items():
        name = tiers().get(detector, {}).get("judge")
        if name and (root / f"{family}.jsonl").is_file():
            pool = spread(read_labelled(root / f"{family}.jsonl", family), need)
            reused = reused or len(pool) < need
            work.append((family, pool, METRICS[name]))
    family, pool, mdef = work[0]
    score_tier(family, pool[-1:], mdef, env)  # warm-up (model load), not timed; the last item is never timed

    def chunk(pool: list, k: int) -> list:
        return [pool[(k * per_family + i) % max(1, len(pool) - 1)] for i in range(per_family)]

    runs: dict = {"quiet": [], "busy": []}
    k = 0
    for r in range(rounds):
        for cond in ("quiet", "busy") if r % 2 == 0 else ("busy", "quiet"):
            load0 = os.getloadavg()[0]
            hog = _neighbour(3600) if cond == "busy" else None
            try:
                rows, ms = 0, 0.0
                for family, pool, mdef in work:
                    res = score_tier(family, chunk(pool, k), mdef, env)
                    rows, ms = rows + res["n"], ms + res["ms_per_row"] * res["n"]
            finally:
                if hog is not None:
                    hog.kill()
                    hog.wait(timeout=30)
            k += 1
            load1 = os.getloadavg()[0]
            runs[cond].append(
                {"round": r, "rows": rows, "ms_per_row": ms / max(1, rows), "load_avg_1m": [load0, load1]}
            )
            print(
                f"  judge timing round {r} {cond:5s}: {ms / max(1, rows):8.1f} ms/row over {rows} rows, "
                f"load avg {load0:.2f} -> {load1:.2f}",
                flush=True,
            )
    return {
        "judge": judge,
        "data": str(data),
        "cpus": os.cpu_count(),
        "neighbour": "one CPU-bound process (python busy loop) during each busy run",
        "items_reused": reused,
        **{
            cond: {"median_ms_per_row": statistics.median(x["ms_per_row"] for x in v), "rounds": v}
            for cond, v in runs.items()
            if v
        },
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=40 if quick() else 200)
    ap.add_argument("--repeats", type=int, default=1 if quick() else 3)
    ap.add_argument("--data", help="a labelled directory (groundedness/refusal/toxicity.jsonl), or calibration:SET")
    ap.add_argument("--tiers", default="screen,classifier,judge", help="comma-separated tiers (with --data)")
    ap.add_argument("--judge", default="local", help="judge model for the judge tier (default: local)")
    ap.add_argument("--judge-limit", type=int, default=None, help="judge at most N items per family")
    ap.add_argument("--out", help="results JSON (relative paths are under benchmarks/)")
    ap.add_argument(
        "--judge-timing",
        type=int,
        metavar="ROUNDS",
        help="with --data: time the judge tier quiet and busy (one CPU-bound neighbour) in ROUNDS interleaved "
        "rounds on --judge-limit items per family (default 5), instead of the accuracy tables",
    )
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_PROJECT_DIR", tempfile.mkdtemp(prefix="wb-bench-acc-proj-"))
    if a.data:
        from common import machine

        if a.judge_timing:
            res = {"judge_timing": judge_timing_section(a.data, a.judge, a.judge_limit or 5, a.judge_timing)}
        else:
            res = tier_section(a.data, [t.strip() for t in a.tiers.split(",") if t.strip()], a.judge, a.judge_limit)
        if a.out:
            out = Path(a.out) if Path(a.out).is_absolute() else Path(__file__).resolve().parent / a.out
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(
                json.dumps(
                    {"benchmark": "metric_accuracy_tiers", "machine": machine(), "results": res}, indent=2, default=str
                )
            )
            print(f"-> {out}")
        return
    results = {"accuracy": accuracy_section()}
    print("\n== cost of redaction (traces, served apps)")
    results["redact"] = redact_section(5 if quick() else 20)
    print("\n== cost in an offline evaluation")
    results["evaluate"] = eval_section(a.rows, a.repeats)
    save("metric_accuracy", results)


if __name__ == "__main__":
    main()
