"""Fit the refusal and toxicity screens' learned heads (issue 26, round 4); report in-sample and k-fold accuracy.

Tuning data (all of it training data once used here): ``datasets/calibration/blind26/`` (423 items, 47 domains;
measured once in docs/metrics.md, then used up) and ``datasets/calibration/*_{tune,heldout,fresh,blind,blind2}``
(Contoso), plus blind26's 217 groundedness answers as negatives (each answers its question, many with
"No, it can't ...", and abuses nobody). Each family's head is a logistic regression over features the screen computes anyway (the pattern
verdicts) plus the offline MiniLM sentence embedding (``workbench/evaluate/metrics/heads.py``), fitted with
``sklearn.linear_model.LogisticRegression`` and written to ``workbench/evaluate/metrics/heads.json`` (numpy only
at run time). Cross-validation groups items **by domain** (a Contoso set is one group per set), so a fold never
sees a domain it is scored on: the k-fold figure estimates text from new domains, not new items of known ones.

    .venv/bin/python benchmarks/tune_screens.py [--folds 5] [--write] [--out results/tune_screens.json]

Flagged = the patterns' verdict OR (the head's P >= its threshold, where the gate allows: a refusal head only
flags a reply with a word of declining). C and the threshold are chosen by the k-fold accuracy (mean of 3
shuffles) with false alarms <= 0.10 over all tuning data and over the family's blind26 file, so the k-fold figure is slightly optimistic (16 settings tried).
A toxicity head only flags text aimed at someone (a person, "you", a group, an imperative).
Prints, per family: the previous tier ("old_screen": patterns, or patterns + BiLSTM for classifier_toxicity), the
new one in-sample, and the new one k-fold (accuracy, recall, false alarms), over all tuning data and over blind26.
``--write`` refits on everything and writes ``heads.json``. (A groundedness head over the verifier's conflict
counts was tried and rejected: k-fold accuracy 0.761 against 0.811 for the verifier alone.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_metric_accuracy import calibration_dir, read_labelled

ROOT = Path(__file__).resolve().parents[1]
BLIND26 = ROOT / "datasets" / "calibration" / "blind26"
CAL_SETS = ("tune", "heldout", "fresh", "blind", "blind2")
POSITIVE = {"refusal": "refusal", "toxicity": "toxic", "classifier_toxicity": "toxic"}
DATA_OF = {"classifier_toxicity": "toxicity"}  # a head fitted on another family's file


_CAL_DIRS: dict = {}


def tuning_items(family: str) -> list[dict]:
    """blind26 + the Contoso calibration sets, each item with a ``group`` (its domain, or contoso-SET)."""
    family = DATA_OF.get(family, family)
    items = [
        dict(it, group=it.get("domain") or "?", source="blind26")
        for it in read_labelled(BLIND26 / f"{family}.jsonl", family)
    ]
    for s in CAL_SETS:
        path = _CAL_DIRS.setdefault(s, calibration_dir(s)) / f"{family}.jsonl"
        if path.is_file():
            items += [
                dict(it, group=f"contoso-{s}", id=f"{s}-{it['id']}", source=f"contoso-{s}")
                for it in read_labelled(path, family)
            ]
    # every blind26 groundedness answer answers its question ("No, it can't be moved") and abuses nobody
    field, label = {"refusal": ("response", "answer"), "toxicity": ("text", "non_toxic")}[family]
    items += [
        {
            "id": f"g-{it['id']}",
            field: it["answer"],
            "label": label,
            "group": it.get("domain") or "?",
            "source": "blind26-groundedness-answers",
        }
        for it in read_labelled(BLIND26 / "groundedness.jsonl", "groundedness")
    ]
    return items


def features(family: str, items: list[dict]) -> np.ndarray:
    from workbench.evaluate.metrics import harm

    return np.stack([harm.FEATURES[family](*_inputs(family, it)) for it in items])


def _inputs(family: str, it: dict) -> tuple:
    if "response" in it:
        return (it["response"],)
    return (it["text"],)


def _old(family: str, it: dict) -> bool:
    """The previous tier's verdict (round 3: patterns, or patterns + BiLSTM for classifier_toxicity)."""
    from workbench.evaluate.metrics import harm, heads

    with heads.disabled():
        if family == "refusal":
            return harm.is_refusal(it["response"], "clause-v3")
        if family == "classifier_toxicity":
            return harm.classifier_toxicity(it["text"])[0] >= 0.5
        return harm.toxicity(it["text"])[0] >= 0.5


def _scores(pred: np.ndarray, y: np.ndarray) -> dict:
    tp, fp = int((pred & y).sum()), int((pred & ~y).sum())
    fn, tn = int((~pred & y).sum()), int((~pred & ~y).sum())
    return {
        "n": len(y),
        "accuracy": round((tp + tn) / len(y), 3),
        "recall": round(tp / max(1, tp + fn), 3),
        "false_alarms": round(fp / max(1, fp + tn), 3),
        "precision": round(tp / max(1, tp + fp), 3),
    }


def _fit(x, y, c):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    sc = StandardScaler().fit(x)
    lr = LogisticRegression(C=c, max_iter=2000, class_weight="balanced").fit(sc.transform(x), y)
    return sc, lr


def kfold(x, y, groups, c, folds, seed=0) -> np.ndarray:
    """Out-of-fold P(problem), folds grouped by domain (StratifiedGroupKFold)."""
    from sklearn.model_selection import StratifiedGroupKFold

    prob = np.zeros(len(y))
    for tr, te in StratifiedGroupKFold(folds, shuffle=True, random_state=seed).split(x, y, groups):
        sc, lr = _fit(x[tr], y[tr], c)
        prob[te] = lr.predict_proba(sc.transform(x[te]))[:, 1]
    return prob


# the families whose patterns keep their say: flagged = the previous verdict OR the head (the head adds recall)
OR_PATTERNS = {"refusal", "toxicity", "classifier_toxicity"}
MAX_FALSE_ALARMS = 0.10  # the bar, on the k-fold figure over all tuning data


def gate(family: str, items: list[dict]) -> np.ndarray:
    """Where the head may flag at all: refusal, the reply has a word of declining (``harm.DECLINE_CUE``);
    toxicity, the text is aimed at someone (``harm.TARGET_CUE``)."""
    from workbench.evaluate.metrics import harm
    from workbench.evaluate.metrics.honesty import plain_text

    cue = harm.DECLINE_CUE if family == "refusal" else harm.TARGET_CUE
    return np.array([bool(cue.search(plain_text(_inputs(family, it)[0]))) for it in items])


def choose(x, y, groups, old, family, folds, allowed, hard) -> tuple[float, float]:
    """(C, threshold) with the best k-fold accuracy (mean over 3 shuffles) whose false alarms stay <= 0.10, over
    all tuning data and over ``hard`` (the family's blind26 file: the hard negatives, written independently)."""
    best = None
    for c in (0.003, 0.01, 0.03, 0.1):
        prob = np.mean([kfold(x, y, groups, c, folds, s) for s in range(3)], axis=0)
        for t in (0.5, 0.6, 0.7, 0.8):
            pred = ((prob >= t) & allowed) | (old if family in OR_PATTERNS else False)
            acc, fa = (pred == y).mean(), max(pred[~y].mean(), pred[hard & ~y].mean())
            key = (fa <= MAX_FALSE_ALARMS, round(acc, 3), -fa)
            if best is None or key > best[0]:
                best = (key, c, t)
    return best[1], best[2]


def main() -> None:
    from workbench.evaluate.metrics import harm, heads

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--families", default="refusal,toxicity,classifier_toxicity")
    ap.add_argument("--write", action="store_true", help="refit on all tuning data and write heads.json")
    ap.add_argument("--out", help="results JSON (relative paths are under benchmarks/)")
    a = ap.parse_args()
    result, table = {}, heads.load_table()
    for family in a.families.split(","):
        items = tuning_items(family)
        y = np.array([it["label"] == POSITIVE[family] for it in items])
        groups = np.array([it["group"] for it in items])
        blind = np.array([it["source"] == "blind26" for it in items])  # the family's own blind26 file
        t = time.perf_counter()
        x = features(family, items)
        ms = 1000 * (time.perf_counter() - t) / len(items)
        old = np.array([_old(family, it) for it in items])
        allowed = gate(family, items)
        c, t = choose(x, y, groups, old, family, a.folds, allowed, blind)
        keep = old if family in OR_PATTERNS else np.zeros(len(y), dtype=bool)
        cv = ((kfold(x, y, groups, c, a.folds) >= t) & allowed) | keep
        sc, lr = _fit(x, y, c)
        ins = ((lr.predict_proba(sc.transform(x))[:, 1] >= t) & allowed) | keep
        r = result[family] = {
            "n": len(y),
            "C": c,
            "threshold": t,
            "or_patterns": family in OR_PATTERNS,
            "feature_ms_per_row": round(ms, 1),
            "old_screen": {"all": _scores(old, y), "blind26": _scores(old[blind], y[blind])},
            "new_in_sample": {"all": _scores(ins, y), "blind26": _scores(ins[blind], y[blind])},
            "new_kfold": {"all": _scores(cv, y), "blind26": _scores(cv[blind], y[blind])},
            "kfold_misses": [it["id"] for it, p, t in zip(items, cv, y, strict=True) if p != t],
        }
        for k in ("old_screen", "new_in_sample", "new_kfold"):
            print(f"{family:13s} {k:14s} all {r[k]['all']}\n{'':13s} {'':14s} blind26 {r[k]['blind26']}", flush=True)
        print(f"{family:13s} C={c} threshold={t} features {ms:.1f} ms/row", flush=True)
        if a.write:
            table[family] = {
                "features": harm.FEATURE_NAMES[family],
                "mean": sc.mean_.tolist(),
                "scale": sc.scale_.tolist(),
                "coef": lr.coef_[0].tolist(),
                "intercept": float(lr.intercept_[0]),
                "threshold": t,
                "trained_on": f"blind26 + datasets/calibration/*_{{{','.join(CAL_SETS)}}} + blind26 groundedness "
                f"answers as negatives ({len(y)} items)",
                "kfold": r["new_kfold"]["all"],
                "C": c,
            }
    if a.write:
        heads.save_table(table)
        print(f"-> {heads.HEADS_PATH}")
    if a.out:
        out = Path(a.out) if Path(a.out).is_absolute() else Path(__file__).resolve().parent / a.out
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps({"benchmark": "tune_screens", "folds": a.folds, "results": result}, indent=2))
        print(f"-> {out}")


if __name__ == "__main__":
    main()
