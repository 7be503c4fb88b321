"""Paired comparison of two evaluations and regression gates.

Rows are paired by (id, repeat). Per metric: mean difference B − A with a paired bootstrap 95% CI;
binary metrics get McNemar's test (exact binomial on the discordant pairs, ``scipy.stats.binomtest``),
numeric ones the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``); effect size is Cohen's d_z
(mean difference / SD of differences). ``flipped`` lists rows whose binary outcome changed.

Gates: ``"quality/f1/mean >= baseline - 0.02"`` — the left side is B's aggregate, ``baseline`` is A's.
"""

from __future__ import annotations

import ast
import operator
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from .metrics import METRICS, load_all

N_BOOT = 2000


@dataclass
class Comparison:
    a: str
    b: str
    table: pd.DataFrame  # one line per metric
    flipped: pd.DataFrame
    aggregates_a: dict[str, float]
    aggregates_b: dict[str, float]
    gates: list[dict] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(g["passed"] for g in self.gates)

    def summary(self) -> pd.DataFrame:
        return self.table


def rows_and_aggregates(x, candidate: str | None) -> tuple[str, pd.DataFrame, dict]:
    """(label, rows, aggregates) from an EvalResult, a per-row DataFrame or an MLflow run id."""
    from .result import EvalResult

    if isinstance(x, EvalResult):
        rows, aggs, label = x.rows, x.metrics, x.run_id or "result"
    elif isinstance(x, pd.DataFrame):  # per-row table (as EvalResult.rows)
        rows, label = x, "rows"
        aggs = {f"{c}/mean": float(pd.to_numeric(x[c], errors="coerce").mean()) for c in x.columns if c in METRICS}
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
    if candidate is not None:
        rows = rows[rows["candidate"] == candidate]
    elif rows["candidate"].nunique() > 1:
        raise WorkbenchError(f"{label} has several candidates {sorted(rows['candidate'].unique())}: pass candidate_a/_b")
    return label, rows, aggs


def _paired_bootstrap(d: np.ndarray, rng) -> tuple[float, float]:
    idx = rng.integers(0, len(d), (N_BOOT, len(d)))
    boots = d[idx].mean(axis=1)
    return float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def compare(a, b, metrics: list[str] | None = None, gates: list[str] | None = None, candidate_a: str | None = None,
            candidate_b: str | None = None) -> Comparison:
    """Compare B against baseline A (EvalResults or MLflow run ids)."""
    from scipy import stats

    load_all()
    la, ra, agg_a = rows_and_aggregates(a, candidate_a)
    lb, rb, agg_b = rows_and_aggregates(b, candidate_b)
    ra = ra.assign(_k=ra["id"].astype(str) + "#" + ra["repeat"].astype(str)).set_index("_k")
    rb = rb.assign(_k=rb["id"].astype(str) + "#" + rb["repeat"].astype(str)).set_index("_k")
    common = ra.index.intersection(rb.index)
    if len(common) == 0:
        raise WorkbenchError(f"{la} and {lb} share no row ids: compare evaluations of the same dataset")
    names = metrics or [m for m in METRICS if m in ra.columns and m in rb.columns]
    rng = np.random.default_rng(0)
    lines, flips = [], []
    for name in names:
        if name not in ra or name not in rb:
            continue
        x = pd.to_numeric(ra.loc[common, name], errors="coerce")
        y = pd.to_numeric(rb.loc[common, name], errors="coerce")
        ok = x.notna() & y.notna()
        x, y = x[ok].to_numpy(float), y[ok].to_numpy(float)
        if len(x) == 0:
            continue
        d = y - x
        md = METRICS.get(name)
        binary = md is not None and md.binary
        lo, hi = _paired_bootstrap(d, rng) if len(d) > 1 else (float(d.mean()), float(d.mean()))
        sd = d.std(ddof=1) if len(d) > 1 else 0.0
        line = {"metric": name, "n": len(d), "mean_a": x.mean(), "mean_b": y.mean(), "diff": d.mean(),
                "ci_low": lo, "ci_high": hi, "effect_size_dz": (d.mean() / sd) if sd > 0 else 0.0}
        if binary:
            b01, b10 = int(((x == 0) & (y == 1)).sum()), int(((x == 1) & (y == 0)).sum())
            line["test"] = "mcnemar-exact"
            line["p_value"] = float(stats.binomtest(b01, b01 + b10, 0.5).pvalue) if b01 + b10 else 1.0
            line["discordant"] = b01 + b10
            keys = np.array(common[ok.to_numpy()])
            for k in keys[(x != y)]:
                flips.append({"metric": name, "id": k.split("#")[0], "repeat": k.split("#")[1],
                              "a": float(ra.loc[k, name]), "b": float(rb.loc[k, name]),
                              "answer_a": ra.loc[k].get("answer"), "answer_b": rb.loc[k].get("answer")})
        else:
            line["test"] = "wilcoxon"
            line["p_value"] = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) and len(d) > 1 else 1.0
        line["higher_is_better"] = md.higher_is_better if md else None
        lines.append(line)
    cmp = Comparison(la, lb, pd.DataFrame(lines), pd.DataFrame(flips), agg_a, agg_b)
    cmp.gates = [check_gate(g, agg_a, agg_b) for g in gates or []]
    return cmp


_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _eval_expr(expr: str, baseline: float | None) -> float:
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return float(node.value)
        if isinstance(node, ast.Name) and node.id == "baseline":
            if baseline is None:
                raise WorkbenchError("the gate uses 'baseline' but run A has no such metric")
            return float(baseline)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            return _BIN[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -ev(node.operand)
        raise WorkbenchError(f"gate expression may use numbers, 'baseline', + - * / only: {expr!r}")

    try:
        return ev(ast.parse(expr, mode="eval"))
    except SyntaxError:
        raise WorkbenchError(f"cannot parse gate expression {expr!r}") from None


def check_gate(gate: str, agg_a: dict, agg_b: dict) -> dict:
    """Evaluate ``"<metric> <op> <expr>"`` where expr may use ``baseline`` (A's value of the metric)."""
    m = re.match(r"^\s*([\w./-]+)\s*(>=|<=|==|>|<)\s*(.+?)\s*$", gate)
    if not m:
        raise WorkbenchError(f"gate must look like 'quality/f1/mean >= baseline - 0.02', got {gate!r}")
    name, op, expr = m.groups()
    if name not in agg_b:
        raise WorkbenchError(f"gate metric '{name}' not found in run B; available: {sorted(agg_b)[:12]}...")
    threshold = _eval_expr(expr, agg_a.get(name))
    value = float(agg_b[name])
    return {"gate": gate, "metric": name, "value": value, "threshold": threshold, "passed": _OPS[op](value, threshold)}
