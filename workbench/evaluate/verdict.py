"""Gate outcomes on a run, for whoever launched it: how a notebook tells ``workbench run`` its verdict.

A notebook that checks regression gates records them with :func:`log_gates` (``wb.evaluate.log_gates(cmp)``):

* the tag ``workbench.gate`` holds the run's verdict — ``pass`` when every gate passed, else ``fail`` when any
  failed, else ``inconclusive`` (a gate whose outcome could not be decided, e.g. too few shared rows);
* the artifact ``gates.json`` holds one entry per gate (gate, outcome, value, threshold, n, reason), and the
  metric ``gate/passed`` is 1 or 0.

``workbench run`` (and ``wb.run_notebook``: ``RunResult.gates``) reads them back when the notebook ends, prints one
line per gate and exits 1 unless the verdict is ``pass``. The run itself stays FINISHED: its execution succeeded;
the verdict is the tag (filter on ``tags.`workbench.gate` = 'fail'`` in the MLflow UI). Runs without gates have
no verdict. ``workbench compare --gate`` prints the same lines and uses the same exit rule.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from typing import Any

from .. import tags as T, tracking

GATES_ARTIFACT = "gates.json"
OUTCOMES = ("pass", "inconclusive", "fail")  # in order of severity: the verdict is the worst one


ALIASES = {"passed": "pass", "failed": "fail", "undecided": "inconclusive"}  # other spellings of an outcome


def outcome(gate: dict) -> str:
    """``pass``, ``fail`` or ``inconclusive`` for one gate dict (its ``outcome``, else its ``passed`` flag)."""
    given = str(gate.get("outcome") or "").strip().lower()
    given = ALIASES.get(given, given)
    if given in OUTCOMES:
        return given
    return "pass" if gate.get("passed") else "fail"


def verdict(gates: Iterable[dict]) -> str | None:
    """The worst outcome of ``gates`` (None for no gates); an inconclusive gate the user allowed
    (``allow_inconclusive``, recorded as ``allowed``) counts as a pass."""
    seen = ["pass" if outcome(g) == "inconclusive" and g.get("allowed") else outcome(g) for g in gates]
    return max(seen, key=OUTCOMES.index) if seen else None


def _num(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "?"
    return "n/a" if math.isnan(x) else f"{x:.4g}"


def gate_line(gate: dict) -> str:
    """One printed line: ``gate FAIL: quality/f1/mean >= baseline - 0.02  (value 0.41, threshold 0.5, on 30
    shared rows, 95% CI -0.12 to -0.03 vs margin -0.02, p=0.01) — reason``; an inconclusive gate also names the
    effect detectable at its n."""
    n = gate.get("n")
    ci = (
        (
            f", 95% CI {_signed(gate.get('ci_low'))} to {_signed(gate.get('ci_high'))} vs margin "
            f"{_signed(gate.get('margin'))}, p={_num(gate.get('p_value'))}"
        )
        if "ci_low" in gate
        else ""
    )
    mde = (
        f", detectable at this n: {_num(gate.get('mde'))}"
        if outcome(gate) == "inconclusive" and _num(gate.get("mde")) not in ("?", "n/a", "inf")
        else ", no difference is detectable on so few rows"
        if outcome(gate) == "inconclusive" and _num(gate.get("mde")) == "inf"
        else ""
    )
    allowed = " (allowed)" if outcome(gate) == "inconclusive" and gate.get("allowed") else ""
    return (
        f"gate {outcome(gate).upper()}{allowed}: {gate.get('gate')}  (value {_num(gate.get('value'))}, threshold "
        f"{_num(gate.get('threshold'))}, on {n if n is not None else '?'} shared rows{ci}{mde})"
        + (f" — {gate['reason']}" if gate.get("reason") else "")
    )


def _signed(x: Any) -> str:
    text = _num(x)
    return text if text in ("?", "n/a") or text.startswith("-") else f"+{text}"


def _plain(gate: dict) -> dict:
    keep = (
        "gate",
        "metric",
        "value",
        "threshold",
        "n",
        "reason",
        "passed",
        "margin",
        "ci_low",
        "ci_high",
        "p_value",
        "mde",
        "allowed",
    )
    out = {k: gate[k] for k in keep if k in gate}
    for k, v in out.items():  # JSON has no NaN or Infinity: NaN is null, an infinite mde "inf" (read by _num)
        if isinstance(v, float) and not math.isfinite(v):
            out[k] = None if math.isnan(v) else ("inf" if v > 0 else "-inf")
    out["outcome"] = outcome(gate)
    return json.loads(json.dumps(out, default=str))


def read_gates(run_id: str) -> list[dict]:
    """The gates recorded on ``run_id`` (empty when none were)."""
    import tempfile
    from pathlib import Path

    c = tracking.client()
    if not any(a.path == GATES_ARTIFACT for a in c.list_artifacts(run_id)):
        return []
    with tempfile.TemporaryDirectory() as d:
        return json.loads(Path(c.download_artifacts(run_id, GATES_ARTIFACT, d)).read_text(encoding="utf-8"))


def log_gates(gates, run_id: str | None = None) -> str | None:
    """Record ``gates`` (a :class:`~workbench.evaluate.Comparison` or its list of gate dicts) on ``run_id`` (default:
    the current run: the launcher's inside ``workbench run``); gates logged earlier on the run are kept. Returns the
    run's verdict. Prints nothing: print :func:`gate_line` of each gate where the notebook shows them."""
    allowed = bool(getattr(gates, "allow_inconclusive", False))
    gates = [{**g, "allowed": True} if allowed else g for g in list(getattr(gates, "gates", gates) or [])]
    rid = run_id or tracking.current_run_id()
    recorded = read_gates(rid) + [_plain(g) for g in gates]
    result = verdict(recorded)
    if result is None:
        return None
    tracking.log_text(json.dumps(recorded, indent=1, ensure_ascii=False), GATES_ARTIFACT, run_id=rid)
    tracking.set_tags({T.GATE: result}, rid)
    tracking.log_metrics({"gate/passed": float(result == "pass")}, run_id=rid)
    return result
