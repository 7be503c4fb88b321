"""Paired comparison of two evaluations and regression gates.

Rows are paired by (id, repeat); everything is computed on the rows both sides answered (the *shared* rows),
after selecting each side's candidate. Per metric: mean difference B − A with its 95% interval and the p-value
of "no difference" from **one** method (:class:`stats.PairedDifference`: the interval is the set of differences
its test does not reject, inside the range of the difference), so a verdict never sits beside an interval that
contradicts it. Benjamini-Hochberg adjusts the p-values of the *primary* metrics (quality, honesty, harm by
default; ``primary=``), leaving out metrics on which no row differs; secondary metrics (cost, tokens, latency)
keep their unadjusted p-value and are labelled so (column ``role``). ``mde`` is the difference detectable at this
n with 80% power. Wilcoxon's signed-rank test is reported apart (``wilcoxon_p``) as a rank test. ``flipped``
lists rows whose binary outcome changed. ``differences`` lists every configuration difference between the two
candidates; ``confounded`` flags a comparison where more than one factor differs.

Gates: ``"quality/f1/mean >= baseline - 0.02"`` — the left side is B's statistic and ``baseline`` is A's, both
on the same shared rows — are tests at their margin: pass when the 95% interval of ``B - baseline`` lies wholly
above ``-0.02``, fail when wholly below, else inconclusive (with the minimum detectable effect); ``p_value`` is
the one-sided p-value of "the gate does not hold". An inconclusive gate does not pass unless
``allow_inconclusive``. Gates refuse to pass on runs with no answered row or a FAILED status, and two runs of
different datasets are refused. A candidate prefix (``"B/quality/f1/mean"``) must name candidate B. A gate on a
statistic that is not per row (``eval/spent_usd``) is a point comparison, refused unless both sides hold the
same rows.
"""

from __future__ import annotations

import ast
import operator
import re
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import UsageError, WorkbenchError
from . import stats as st
from .metrics import METRICS, load_all

PRIMARY_FAMILIES = ("quality", "honesty", "harm")  # the family BH corrects over; the rest is secondary


@dataclass
class Comparison:
    """B against baseline A on their shared rows: ``table`` (one line per metric), ``gates``, ``flipped`` rows,
    the configuration ``differences`` and the answered counts. ``passed``: every gate passed (or was
    inconclusive, when ``allow_inconclusive``)."""

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
    answered_a: int = 0  # shared rows each side answered
    answered_b: int = 0
    differences: dict = field(default_factory=dict)  # config key -> (A's value, B's value)
    factors: list[str] = field(default_factory=list)  # the factors those keys belong to
    allow_inconclusive: bool = False

    @property
    def confounded(self) -> bool:
        """More than one factor differs: a difference cannot be put down to any one of them."""
        return len(self.factors) > 1

    @property
    def passed(self) -> bool:
        ok = {st.PASS, st.INCONCLUSIVE} if self.allow_inconclusive else {st.PASS}
        return all(g["outcome"] in ok for g in self.gates)

    def headline(self) -> str:
        """The first line of any report: answered / total per side, failures and confounds."""
        out = f"A answered {self.answered_a}/{self.n_shared}, B answered {self.answered_b}/{self.n_shared} shared rows"
        if self.answered_a < self.n_shared or self.answered_b < self.n_shared:
            out += (
                f" — WARNING: {self.n_shared - self.answered_a} of A's and {self.n_shared - self.answered_b} "
                f"of B's rows failed; they count as failures in quality and honesty"
            )
        if self.confounded:
            out += f" — CONFOUNDED: the candidates differ in {len(self.factors)} factors ({', '.join(self.factors)})"
        return out

    def summary(self) -> pd.DataFrame:
        return self.table


@dataclass
class Side:
    label: str
    candidate: str
    rows: pd.DataFrame  # this candidate's rows only, indexed by "id#repeat"
    aggs: dict[str, float]  # this candidate's aggregates, unprefixed
    digest: str | None = None  # the evaluated dataset's content digest
    status: str | None = None  # the MLflow run status (None for in-memory results)
    config: dict = field(default_factory=dict)  # the candidate's configuration (its logged params)


def _own_aggregates(aggs: dict, candidate: str, candidates: list[str]) -> dict[str, float]:
    """A candidate's aggregates without the ``<candidate>/`` prefix a multi-candidate run puts on them."""
    if len(candidates) <= 1:
        return dict(aggs)
    pre = f"{candidate}/"
    return {k[len(pre) :]: v for k, v in aggs.items() if k.startswith(pre)}


def side(x, candidate: str | None) -> Side:
    """One side of a comparison from an EvalResult, a per-row DataFrame or an MLflow run id."""
    from .result import EvalResult

    digest = status = None
    params: dict = {}
    if isinstance(x, EvalResult):
        rows, aggs, label = x.rows, x.metrics, x.run_id or "result"
        digest, params = x.dataset.digest, x.params
    elif isinstance(x, pd.DataFrame):  # per-row table (as EvalResult.rows); aggregates follow the candidate filter
        rows, aggs, label = x, None, "rows"
    elif isinstance(x, str):
        from .. import tracking

        try:
            rows = tracking.load_table(x, "eval_rows.json")
            run = tracking.client().get_run(x)
            aggs, params, status = dict(run.data.metrics), dict(run.data.params), run.info.status
            digest = params.get("dataset.digest")
        except Exception as e:  # noqa: BLE001 - MLflow raises several types for unknown runs/artifacts
            raise WorkbenchError(
                f"run {x}: no evaluation rows found ({type(e).__name__}: {str(e)[:150]}); "
                f"compare runs made by `workbench eval` or wb.evaluate"
            ) from None
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
        computed = {
            f"{c}/{stat}": st.aggregate(pd.to_numeric(rows[c], errors="coerce").dropna(), stat)
            for c in rows.columns
            if c in METRICS
            for stat in METRICS[c].stats
        }
        aggs = {k: v for k, v in computed.items() if v is not None}
    else:
        aggs = _own_aggregates(aggs, candidate, cands)
    pre = f"candidate.{candidate}."
    config = {k[len(pre) :]: v for k, v in params.items() if k.startswith(pre)}
    return Side(label, candidate, rows, aggs, digest, status, config)


def _paired(sa: Side, sb: Side, common, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A's and B's values of a per-row column on the shared rows where both have one, and their keys."""
    x = pd.to_numeric(sa.rows.loc[common, name], errors="coerce")
    y = pd.to_numeric(sb.rows.loc[common, name], errors="coerce")
    ok = (x.notna() & y.notna()).to_numpy()
    return x.to_numpy(float)[ok], y.to_numpy(float)[ok], np.asarray(common)[ok]


ERROR_TOLERANCE = 0.02  # error rates of the two sides may differ by this much before gates refuse to pass


def compare(
    a,
    b,
    metrics: list[str] | None = None,
    gates: list[str] | None = None,
    candidate_a: str | None = None,
    candidate_b: str | None = None,
    error_tolerance: float = ERROR_TOLERANCE,
    allow_error_mismatch: bool = False,
    primary: tuple[str, ...] = PRIMARY_FAMILIES,
    allow_inconclusive: bool = False,
) -> Comparison:
    """Compare candidate B against baseline A (EvalResults, per-row DataFrames or MLflow run ids), paired on
    their shared rows. Failed rows count (quality and honesty score them as failures); when the two sides'
    error rates on the shared rows differ by more than ``error_tolerance``, every gate fails saying so, unless
    ``allow_error_mismatch``. ``primary``: the metric families (or metric names) Benjamini-Hochberg corrects
    over. ``allow_inconclusive``: let inconclusive gates count as passed (``--allow-inconclusive``)."""
    load_all()
    sa, sb = side(a, candidate_a), side(b, candidate_b)
    common = sa.rows.index.intersection(sb.rows.index)
    if len(common) == 0:
        raise WorkbenchError(f"{sa.label} and {sb.label} share no row ids: compare evaluations of the same dataset")
    _same_dataset(sa, sb, common)
    only_a, only_b = len(sa.rows.index.difference(common)), len(sb.rows.index.difference(common))
    if only_a or only_b:
        warnings.warn(
            f"comparing on the {len(common)} shared rows only: {only_a} rows only in {sa.label} "
            f"({sa.candidate}), {only_b} only in {sb.label} ({sb.candidate})",
            stacklevel=2,
        )
    names = metrics or [m for m in METRICS if m in sa.rows.columns and m in sb.rows.columns]
    lines, flips = [], []
    for name in names:
        if name not in sa.rows or name not in sb.rows:
            continue
        x, y, keys = _paired(sa, sb, common, name)
        if len(x) == 0:
            continue
        lines.append(_metric_line(name, x, y, primary))
        if METRICS.get(name) is not None and METRICS[name].binary:
            for k in keys[x != y]:
                flips.append(
                    {
                        "metric": name,
                        "id": k.split("#")[0],
                        "repeat": k.split("#")[1],
                        "a": float(sa.rows.loc[k, name]),
                        "b": float(sb.rows.loc[k, name]),
                        "answer_a": sa.rows.loc[k].get("answer"),
                        "answer_b": sb.rows.loc[k].get("answer"),
                    }
                )
    table = _adjust(pd.DataFrame(lines))
    ea, eb = _error_rate(sa.rows.loc[common]), _error_rate(sb.rows.loc[common])
    diffs, factors = config_differences(sa.config, sb.config)
    cmp = Comparison(
        sa.label,
        sb.label,
        table,
        pd.DataFrame(flips),
        sa.aggs,
        sb.aggs,
        n_shared=len(common),
        only_a=only_a,
        only_b=only_b,
        error_rate_a=ea,
        error_rate_b=eb,
        answered_a=round((1 - ea) * len(common)),
        answered_b=round((1 - eb) * len(common)),
        differences=diffs,
        factors=factors,
        allow_inconclusive=allow_inconclusive,
    )
    if len(factors) > 1:
        warnings.warn(
            f"{sa.candidate} and {sb.candidate} differ in {len(factors)} factors ({', '.join(factors)}): "
            f"a difference cannot be put down to any one of them",
            stacklevel=2,
        )
    cmp.gates = [paired_gate(g, sa, sb, common) for g in gates or []]
    for why in _gate_vetoes(sa, sb, cmp, error_tolerance, allow_error_mismatch):
        warnings.warn(why, stacklevel=2)
        for g in cmp.gates:
            g.update(passed=False, outcome=st.FAIL, reason=why)
    return cmp


def _metric_line(name: str, x: np.ndarray, y: np.ndarray, primary) -> dict:
    """One table line: the difference, its interval and test (one method), its role in the BH family."""
    d = y - x
    md = METRICS.get(name)
    binary = md is not None and md.binary
    pdiff = st.PairedDifference(d, st.diff_range(md.range if md else None))
    lo, hi = pdiff.interval()
    constant = not np.any(d != 0)
    family = md.family if md else name.split("/")[0]
    role = "constant" if constant else ("primary" if family in primary or name in primary else "secondary")
    line = {
        "metric": name,
        "role": role,
        "n": len(d),
        "mean_a": x.mean(),
        "mean_b": y.mean(),
        "diff": d.mean(),
        "ci_low": lo,
        "ci_high": hi,
        "ci_method": "test inversion (same test as p_value)",
        "test": st.BINARY_TEST if binary else st.PAIRED_TEST,
        "p_value": 1.0 if constant else pdiff.p_value(0.0),
        "mde": st.mde(pdiff.sd, pdiff.n),
        "sd_diff": pdiff.sd,
        "effect_size_dz": st.effect_size_dz(d),
        "higher_is_better": md.higher_is_better if md else None,
    }
    if binary:
        line["discordant"] = int((x != y).sum())
    else:
        line["wilcoxon_p"] = st.wilcoxon(d)
    return line


def _adjust(table: pd.DataFrame) -> pd.DataFrame:
    """BH-adjusted p-values over the primary metrics; secondary ones keep theirs, labelled; constant ones none."""
    if not len(table):
        return table
    prim = (table["role"] == "primary").to_numpy()
    table["p_adjusted"] = np.nan
    if prim.any():
        table.loc[prim, "p_adjusted"] = st.bh_adjust(table.loc[prim, "p_value"])
    table["correction"] = np.where(
        prim,
        f"{st.CORRECTION} over {int(prim.sum())} primary metrics",
        np.where(table["role"] == "secondary", "none (secondary metric, unadjusted)", "none (no row differs)"),
    )
    return table


def _same_dataset(sa: Side, sb: Side, common) -> None:
    """Refuse to pair two runs of different datasets: different digests and a shared row whose input or
    reference differs (a subset of one dataset keeps its rows, and passes with a warning)."""
    if not sa.digest or not sb.digest or sa.digest == sb.digest:
        return
    cols = [c for c in ("input", "reference") if c in sa.rows and c in sb.rows]
    if cols:
        ra, rb = sa.rows.loc[common, cols].astype(str), sb.rows.loc[common, cols].astype(str)
        same = (ra == rb).all(axis=1)
        if same.all():
            warnings.warn(
                f"{sa.label} and {sb.label} evaluated datasets with different digests ({sa.digest} vs "
                f"{sb.digest}); their {len(common)} shared rows hold the same inputs and references",
                stacklevel=3,
            )
            return
        bad = list(same.index[~same.to_numpy()][:3])
        raise WorkbenchError(
            f"{sa.label} and {sb.label} evaluated different datasets (digest {sa.digest} vs "
            f"{sb.digest}): shared row ids such as {bad} hold different questions or references; "
            f"compare evaluations of the same dataset"
        )
    warnings.warn(
        f"{sa.label} and {sb.label} evaluated datasets with different digests ({sa.digest} vs "
        f"{sb.digest}), and their rows hold no input or reference to check the pairing by",
        stacklevel=3,
    )


def _gate_vetoes(sa: Side, sb: Side, cmp: Comparison, tolerance: float, allow_error_mismatch: bool) -> list[str]:
    """Reasons no gate may pass: a side that answered nothing or whose run FAILED, or error rates that differ."""
    out = []
    for label, s, answered in (("A", sa, cmp.answered_a), ("B", sb, cmp.answered_b)):
        if answered == 0:
            out.append(f"run {label} ({s.label}) answered none of the {cmp.n_shared} shared rows")
        if s.status not in (None, "FINISHED"):
            out.append(f"run {label} ({s.label}) ended {s.status}: gates do not pass on a run that did not finish")
    if abs(cmp.error_rate_a - cmp.error_rate_b) > tolerance and not allow_error_mismatch:
        out.append(
            f"error rates differ: {cmp.error_rate_a:.1%} of A's shared rows failed, {cmp.error_rate_b:.1%} "
            f"of B's (tolerance {tolerance:.1%}); fix the failures, or pass allow_error_mismatch=True "
            f"(--allow-error-mismatch)"
        )
    elif abs(cmp.error_rate_a - cmp.error_rate_b) > tolerance:
        warnings.warn(f"error rates differ: {cmp.error_rate_a:.1%} vs {cmp.error_rate_b:.1%} (allowed)", stacklevel=3)
    return out


# ------------------------------------------------------------------ configuration differences

# which factor each configuration key belongs to; keys not listed are generation parameters
FACTOR_OF = {
    "model": "model",
    "adapter": "adapter",
    "system_prompt": "system prompt",
    "template": "prompt",
    "prompt": "prompt",
    "function": "function",
    "kind": "retrieval",
    "top_k": "retrieval",
    "retriever": "retrieval",
    "mmr": "retrieval",
    "embed_model": "retrieval",
    "index_kind": "retrieval",
    "corpus_hash": "retrieval",
    "index_path": "retrieval",
    "rerank": "retrieval",
    "query_rewrite": "retrieval",
    "fetch_k": "retrieval",
}
_PROMPT_KEYS = ("template", "prompt")  # a prompt candidate's template and a RAG pipeline's prompt are one thing


def _factor(key: str) -> str:
    return "retrieval" if key.startswith("chunker.") else FACTOR_OF.get(key, "generation")


def config_differences(ca: dict, cb: dict) -> tuple[dict, list[str]]:
    """Every configuration key whose value differs between two candidates (``{key: (a, b)}``, a missing key
    is None) and the factors they belong to (model, adapter, prompt, system prompt, retrieval, generation)."""

    def norm(c: dict) -> dict:
        c = {k: str(v) for k, v in c.items() if v is not None and str(v) not in ("", "None")}
        tmpl = next((c.pop(k) for k in _PROMPT_KEYS if k in c), None)
        return {**c, "template": tmpl} if tmpl is not None else c

    na, nb = norm(ca), norm(cb)
    diffs = {k: (na.get(k), nb.get(k)) for k in sorted(set(na) | set(nb)) if na.get(k) != nb.get(k)}
    return diffs, sorted({_factor(k) for k in diffs})


def _error_rate(rows: pd.DataFrame) -> float:
    return float(rows["error"].notna().mean()) if "error" in rows and len(rows) else 0.0


# ------------------------------------------------------------------ gates

_OPS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_BIN = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_GATE = re.compile(r"^\s*([\w./-]+)\s*(>=|<=|==|>|<)\s*(.+?)\s*$")
MAX_GATE_CHARS = 200  # a gate is a short expression; longer ones are refused before parsing


def _eval_expr(expr: str, baseline: float | None) -> float:
    def ev(node):
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            if not np.isfinite(node.value):
                raise UsageError(f"gate expression {expr!r}: {node.value} is not a finite number")
            return float(node.value)
        if isinstance(node, ast.Name):
            if node.id != "baseline":
                raise UsageError(f"gate expression {expr!r}: unknown name {node.id!r} (only 'baseline' is known)")
            if baseline is None:
                raise WorkbenchError(f"gate expression {expr!r} uses 'baseline' but run A has no such metric")
            return float(baseline)
        if isinstance(node, ast.BinOp) and type(node.op) in _BIN:
            left, right = ev(node.left), ev(node.right)
            if isinstance(node.op, ast.Div) and right == 0:
                raise WorkbenchError(
                    f"gate expression {expr!r} divides by zero" + (" (baseline is 0)" if baseline == 0 else "")
                )
            return _BIN[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = ev(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        raise UsageError(f"gate expression may use numbers, 'baseline', + - * / only: {expr!r}")

    if len(expr) > MAX_GATE_CHARS:
        raise UsageError(
            f"gate expression is {len(expr)} characters long; at most {MAX_GATE_CHARS} are accepted "
            f"(write e.g. 'baseline - 0.02')"
        )
    try:
        value = ev(ast.parse(expr, mode="eval"))
    except (SyntaxError, RecursionError, MemoryError):
        raise UsageError(f"cannot parse gate expression {expr[:80]!r}") from None
    if not np.isfinite(value):
        raise UsageError(f"gate expression {expr[:80]!r} is not a finite number ({value})")
    return float(value)


def _parse_gate(gate: str) -> tuple[str, str, str]:
    if not isinstance(gate, str) or len(gate) > MAX_GATE_CHARS + 100:
        raise UsageError(
            f"a gate is a short expression like 'quality/f1/mean >= baseline - 0.02' (at most "
            f"{MAX_GATE_CHARS} characters in its threshold), got {str(gate)[:60]!r}..."
        )
    m = _GATE.match(gate)
    if not m:
        raise UsageError(f"gate must look like 'quality/f1/mean >= baseline - 0.02', got {gate!r}")
    return m.group(1), m.group(2), m.group(3)


def check_gate(gate: str, agg_a: dict, agg_b: dict) -> dict:
    """Evaluate ``"<metric> <op> <expr>"`` on two aggregate dicts as a point comparison; ``expr`` may use
    ``baseline`` (A's value). :func:`compare` tests per-row statistics at their margin (:func:`paired_gate`)."""
    name, op, expr = _parse_gate(gate)
    if name not in agg_b:
        raise WorkbenchError(f"gate metric '{name}' not found in run B; available: {sorted(agg_b)[:12]}...")
    threshold = _eval_expr(expr, agg_a.get(name))
    value = float(agg_b[name])
    passed = bool(_OPS[op](value, threshold))
    return {
        "gate": gate,
        "metric": name,
        "value": value,
        "threshold": threshold,
        "passed": passed,
        "outcome": st.PASS if passed else st.FAIL,
        "test": "point comparison (no per-row values)",
    }


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


def _linear(expr: str) -> tuple[float, float]:
    """``threshold = k * baseline + c`` for a gate expression; refused when it is not linear in baseline."""
    f0, f1, f2 = (_eval_expr(expr, b) for b in (0.0, 1.0, 2.0))
    k = f1 - f0
    if not np.isclose(f2 - f1, k, rtol=1e-9, atol=1e-12):
        raise UsageError(
            f"gate expression {expr!r} is not linear in baseline: write it as "
            f"'baseline * k + c' (e.g. 'baseline - 0.02' or 'baseline * 0.95')"
        )
    return k, f0


def paired_gate(gate: str, sa: Side, sb: Side, common) -> dict:
    """A gate of B against A on their shared rows, as a test at its margin (pass / fail / inconclusive); refused
    (WorkbenchError) when that is not possible."""
    name, op, expr = _parse_gate(gate)
    first, _, rest = name.partition("/")
    if rest and first not in _families():
        if first != sb.candidate:
            raise WorkbenchError(
                f"gate {gate!r} names candidate {first!r}, but gates test candidate B "
                f"({sb.candidate!r}) against baseline A ({sa.candidate!r}): write the metric "
                f"without a prefix, or as '{sb.candidate}/{rest}'"
            )
        name = rest
    plain = f"{name} {op} {expr}"
    only = {"only_a": len(sa.rows) - len(common), "only_b": len(sb.rows) - len(common)}
    va, vb = _row_values(name, sa.rows), _row_values(name, sb.rows)
    if va is not None and vb is not None:
        (xa, stat), (xb, _) = va, vb
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
        k, c = _linear(expr)
        out.update(gate=gate, n=len(x), **only, paired_diff=float((y - x).mean()), margin=c, baseline_factor=k)
        if stat == "mean":
            md = METRICS.get(name.rpartition("/")[0])
            rng = st.diff_range(md.range) if md and k == 1 else (md.range if md and k == 0 else (None, None))
            t = st.gate_test(st.PairedDifference(y - k * x, rng), op, c)
        else:
            t = st.stat_gate_test(x, y, stat, k, op, c)
        out.update(
            outcome=t.outcome,
            passed=t.outcome == st.PASS,
            p_value=t.p_value,
            ci_low=t.ci_low,
            ci_high=t.ci_high,
            mde=t.mde,
            test=t.test,
        )
        return out
    if name not in sb.aggs:
        raise WorkbenchError(
            f"gate metric '{name}' not found in run B ({sb.label}, candidate {sb.candidate!r}); "
            f"available: {sorted(sb.aggs)[:12]}..."
        )
    if only["only_a"] or only["only_b"]:
        raise WorkbenchError(
            f"gate {gate!r}: '{name}' is not a per-row statistic, so it cannot be recomputed on "
            f"the {len(common)} shared rows, and the two sides hold different rows "
            f"({only['only_a']} only in A, {only['only_b']} only in B)"
        )
    out = check_gate(plain, sa.aggs, sb.aggs)
    out.update(gate=gate, n=len(common), **only)
    return out
