"""Paired comparison of two evaluations and regression gates.

Rows are paired by (id, repeat); everything is computed on the rows both sides answered (the *shared* rows),
after selecting each side's candidate. Per metric: mean difference B − A with a 95% interval
(studentized bootstrap of the paired differences), a paired test whose null is the reported quantity — the
sign-flip permutation test of the mean difference, or McNemar's exact test for binary metrics — and
Benjamini-Hochberg adjusted p-values over the metrics of the table (column ``p_adjusted``; ``correction``
names it). Wilcoxon's signed-rank test is reported apart (``wilcoxon_p``) as a rank test, not as the test of
the mean. Effect size is Cohen's d_z (NaN for constant differences). ``flipped`` lists rows whose binary
outcome changed. Methods and simulated coverage: ``docs/metrics.md`` ("Statistics").

Gates: ``"quality/f1/mean >= baseline - 0.02"`` — the left side is B's statistic and ``baseline`` is A's, both
computed on the same shared rows. A candidate prefix (``"B/quality/f1/mean"``) must name candidate B. A gate
on a statistic that is not per row (``eval/spent_usd``) is refused unless both sides hold the same rows.
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from . import stats as st
from .metrics import METRICS, load_all


@dataclass
class Comparison:
    a: str
    b: str
    table: pd.DataFrame  # one line per metric
    flipped: pd.DataFrame
    aggregates_a: dict[str, float]
    aggregates_b: dict[str, float]
    gates: list[dict] = field(default_factory=list)
    n_shared: int = 0  # rows (id, repeat) both sides have
    only_a: int = 0  # rows only A has (not compared)
    only_b: int = 0
    error_rate_a: float = 0.0  # failed rows among the shared ones
    error_rate_b: float = 0.0

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)

    def summary(self) -> pd.DataFrame:
        return self.table


@dataclass
class Side:
    label: str
    candidate: str
    rows: pd.DataFrame  # this candidate's rows only, indexed by "id#repeat"
    aggs: dict[str, float]  # this candidate's aggregates, unprefixed


def _own_aggregates(aggs: dict, candidate: str, candidates: list[str]) -> dict[str, float]:
    """A candidate's aggregates without the ``<candidate>/`` prefix a multi-candidate run puts on them."""
    if len(candidates) <= 1:
        return dict(aggs)
    pre = f"{candidate}/"
    return {k[len(pre):]: v for k, v in aggs.items() if k.startswith(pre)}


def side(x, candidate: str | None) -> Side:
    """One side of a comparison from an EvalResult, a per-row DataFrame or an MLflow run id."""
    from .result import EvalResult

    if isinstance(x, EvalResult):
        rows, aggs, label = x.rows, x.metrics, x.run_id or "result"
    elif isinstance(x, pd.DataFrame):  # per-row table (as EvalResult.rows); aggregates follow the candidate filter
        rows, aggs, label = x, None, "rows"
    elif isinstance(x, str):
        from .. import tracking

        try:
            rows = tracking.load_table(x, "eval_rows.json")
            aggs = dict(tracking.client().get_run(x).data.metrics)
        except Exception as e:  # noqa: BLE001 - MLflow raises several types for unknown runs/artifacts
            raise WorkbenchError(f"run {x}: no evaluation rows found ({type(e).__name__}: {str(e)[:150]}); "
                                 f"compare runs made by `workbench eval` or wb.evaluate") from None
        label = x
    else:
        raise WorkbenchError(f"compare takes EvalResults, row DataFrames or run ids, got {type(x).__name__}")
    if "candidate" not in rows:
        rows = rows.assign(candidate="candidate")
    if "repeat" not in rows:
        rows = rows.assign(repeat=0)
    cands = sorted(rows["candidate"].dropna().unique())
    if candidate is None:
        if len(cands) > 1:
            raise WorkbenchError(f"{label} has several candidates {cands}: pass candidate_a/_b")
        candidate = cands[0] if cands else "candidate"
    elif candidate not in cands:
        raise WorkbenchError(f"{label} has no candidate {candidate!r}; it has {cands}")
    rows = rows[rows["candidate"] == candidate]
    rows = rows.assign(_k=rows["id"].astype(str) + "#" + rows["repeat"].astype(str)).set_index("_k")
    if aggs is None:
        aggs = {f"{c}/{stat}": st.aggregate(pd.to_numeric(rows[c], errors="coerce").dropna(), stat)
                for c in rows.columns if c in METRICS for stat in METRICS[c].stats}
        aggs = {k: v for k, v in aggs.items() if v is not None}
    else:
        aggs = _own_aggregates(aggs, candidate, cands)
    return Side(label, candidate, rows, aggs)


def _paired(sa: Side, sb: Side, common, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A's and B's values of a per-row column on the shared rows where both have one, and their keys."""
    x = pd.to_numeric(sa.rows.loc[common, name], errors="coerce")
    y = pd.to_numeric(sb.rows.loc[common, name], errors="coerce")
    ok = (x.notna() & y.notna()).to_numpy()
    return x.to_numpy(float)[ok], y.to_numpy(float)[ok], np.asarray(common)[ok]


ERROR_TOLERANCE = 0.02  # error rates of the two sides may differ by this much before gates refuse to pass


def compare(a, b, metrics: list[str] | None = None, gates: list[str] | None = None, candidate_a: str | None = None,
            candidate_b: str | None = None, error_tolerance: float = ERROR_TOLERANCE,
            allow_error_mismatch: bool = False) -> Comparison:
    """Compare candidate B against baseline A (EvalResults, per-row DataFrames or MLflow run ids), paired on
    their shared rows. Failed rows count (quality and honesty score them as failures); when the two sides'
    error rates on the shared rows differ by more than ``error_tolerance``, every gate fails saying so, unless
    ``allow_error_mismatch``."""
    load_all()
    sa, sb = side(a, candidate_a), side(b, candidate_b)
    common = sa.rows.index.intersection(sb.rows.index)
    if len(common) == 0:
        raise WorkbenchError(f"{sa.label} and {sb.label} share no row ids: compare evaluations of the same dataset")
    only_a, only_b = len(sa.rows.index.difference(common)), len(sb.rows.index.difference(common))
    if only_a or only_b:
        warnings.warn(f"comparing on the {len(common)} shared rows only: {only_a} rows only in {sa.label} "
                      f"({sa.candidate}), {only_b} only in {sb.label} ({sb.candidate})", stacklevel=2)
    names = metrics or [m for m in METRICS if m in sa.rows.columns and m in sb.rows.columns]
    lines, flips = [], []
    for name in names:
        if name not in sa.rows or name not in sb.rows:
            continue
        x, y, keys = _paired(sa, sb, common, name)
        if len(x) == 0:
            continue
        d = y - x
        md = METRICS.get(name)
        binary = md is not None and md.binary
        lo, hi = st.mean_ci(d)
        line = {"metric": name, "n": len(d), "mean_a": x.mean(), "mean_b": y.mean(), "diff": d.mean(),
                "ci_low": lo, "ci_high": hi, "ci_method": "studentized-bootstrap",
                "effect_size_dz": st.effect_size_dz(d)}
        if binary:
            t = st.mcnemar_exact(x, y)
            line["discordant"] = int((x != y).sum())
            for k in keys[x != y]:
                flips.append({"metric": name, "id": k.split("#")[0], "repeat": k.split("#")[1],
                              "a": float(sa.rows.loc[k, name]), "b": float(sb.rows.loc[k, name]),
                              "answer_a": sa.rows.loc[k].get("answer"), "answer_b": sb.rows.loc[k].get("answer")})
        else:
            t = st.paired_permutation(d)
            line["wilcoxon_p"] = st.wilcoxon(d)
        line.update(test=t.test, p_value=t.p_value, higher_is_better=md.higher_is_better if md else None)
        lines.append(line)
    table = pd.DataFrame(lines)
    if len(table):
        table["p_adjusted"] = st.bh_adjust(table["p_value"])
        table["correction"] = f"{st.CORRECTION} over {len(table)} metrics"
    ea, eb = _error_rate(sa.rows.loc[common]), _error_rate(sb.rows.loc[common])
    cmp = Comparison(sa.label, sb.label, table, pd.DataFrame(flips), sa.aggs, sb.aggs, n_shared=len(common),
                     only_a=only_a, only_b=only_b, error_rate_a=ea, error_rate_b=eb)
    cmp.gates = [paired_gate(g, sa, sb, common) for g in gates or []]
    if abs(ea - eb) > error_tolerance:
        why = (f"error rates differ: {ea:.1%} of A's shared rows failed, {eb:.1%} of B's (tolerance "
               f"{error_tolerance:.1%}); fix the failures, or pass allow_error_mismatch=True (--allow-error-mismatch)")
        warnings.warn(why, stacklevel=2)
        if not allow_error_mismatch:
            for g in cmp.gates:
                g.update(passed=False, reason=why)
    return cmp


def _error_rate(rows: pd.DataFrame) -> float:
    return float(rows["error"].notna().mean()) if "error" in rows and len(rows) else 0.0


# ------------------------------------------------------------------ gates

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_GATE = re.compile(r"^\s*([\w./-]+)\s*(>=|<=|==|>|<)\s*(.+?)\s*$")


def _eval_expr(expr: str, baseline: float | None) -> float:
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id != "baseline":
                raise WorkbenchError(f"gate expression {expr!r}: unknown name {node.id!r} (only 'baseline' is known)")
            if baseline is None:
                raise WorkbenchError(f"gate expression {expr!r} uses 'baseline' but run A has no such metric")
            return float(baseline)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise WorkbenchError(f"gate expression {expr!r} divides by zero"
                                     + (" (baseline is 0)" if baseline == 0 else ""))
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise WorkbenchError(f"gate expression may use numbers, 'baseline', + - * / only: {expr!r}")

    try:
        return ev(ast.parse(expr, mode="eval"))
    except SyntaxError:
        raise WorkbenchError(f"cannot parse gate expression {expr!r}") from None


def _parse_gate(gate: str) -> tuple[str, str, str]:
    m = _GATE.match(gate)
    if not m:
        raise WorkbenchError(f"gate must look like 'quality/f1/mean >= baseline - 0.02', got {gate!r}")
    return m.groups()


def check_gate(gate: str, agg_a: dict, agg_b: dict) -> dict:
    """Evaluate ``"<metric> <op> <expr>"`` on two aggregate dicts; ``expr`` may use ``baseline`` (A's value).
    :func:`compare` calls it with statistics of the shared rows (see :func:`paired_gate`)."""
    name, op, expr = _parse_gate(gate)
    if name not in agg_b:
        raise WorkbenchError(f"gate metric '{name}' not found in run B; available: {sorted(agg_b)[:12]}...")
    threshold = _eval_expr(expr, agg_a.get(name))
    value = float(agg_b[name])
    return {"gate": gate, "metric": name, "value": value, "threshold": threshold, "passed": _OPS[op](value, threshold)}


def _row_values(name: str, rows: pd.DataFrame) -> tuple[pd.Series, str] | None:
    """(per-row values, statistic) behind an aggregate name; None when it is not a per-row statistic."""
    if name == "run/error_rate":
        return (rows["error"].notna().astype(float), "mean") if "error" in rows else None
    base, _, stat = name.rpartition("/")
    if stat == "judge_error_rate" and f"{base}.judge_error" in rows:
        return pd.to_numeric(rows[f"{base}.judge_error"], errors="coerce"), "mean"
    if base in METRICS and base in rows:
        return pd.to_numeric(rows[base], errors="coerce"), stat
    return None


def _families() -> set[str]:
    return {m.family for m in METRICS.values()} | {"run", "eval"}


def paired_gate(gate: str, sa: Side, sb: Side, common) -> dict:
    """A gate of B against A on their shared rows; refused (WorkbenchError) when that is not possible."""
    name, op, expr = _parse_gate(gate)
    first, _, rest = name.partition("/")
    if rest and first not in _families():
        if first != sb.candidate:
            raise WorkbenchError(f"gate {gate!r} names candidate {first!r}, but gates test candidate B "
                                 f"({sb.candidate!r}) against baseline A ({sa.candidate!r}): write the metric "
                                 f"without a prefix, or as '{sb.candidate}/{rest}'")
        name = rest
    plain = f"{name} {op} {expr}"
    only = {"only_a": len(sa.rows) - len(common), "only_b": len(sb.rows) - len(common)}
    va_vb = _row_values(name, sa.rows), _row_values(name, sb.rows)
    if None not in va_vb:
        (xa, stat), (xb, _) = va_vb
        x, y = xa.loc[common].to_numpy(float), xb.loc[common].to_numpy(float)
        ok = ~(np.isnan(x) | np.isnan(y))
        x, y = x[ok], y[ok]
        if len(x) == 0:
            raise WorkbenchError(f"gate {gate!r}: no shared row has a value of {name!r} on both sides")
        try:
            agg_a, agg_b = {name: st.aggregate(x, stat)}, {name: st.aggregate(y, stat)}
        except ValueError as e:
            raise WorkbenchError(f"gate {gate!r}: {e}") from None
        out = check_gate(plain, agg_a, agg_b)
        d = y - x
        out.update(gate=gate, n=len(d), **only, paired_diff=float(d.mean()))
        if stat == "mean":
            out.update(test=st.PAIRED_TEST, p_value=st.paired_permutation(d).p_value)
        return out
    if name not in sb.aggs:
        raise WorkbenchError(f"gate metric '{name}' not found in run B ({sb.label}, candidate {sb.candidate!r}); "
                             f"available: {sorted(sb.aggs)[:12]}...")
    if only["only_a"] or only["only_b"]:
        raise WorkbenchError(f"gate {gate!r}: '{name}' is not a per-row statistic, so it cannot be recomputed on "
                             f"the {len(common)} shared rows, and the two sides hold different rows "
                             f"({only['only_a']} only in A, {only['only_b']} only in B)")
    out = check_gate(plain, sa.aggs, sb.aggs)
    out.update(gate=gate, n=len(common), **only)
    return out
