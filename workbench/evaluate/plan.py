"""Power planning: how many paired rows a comparison needs to detect an effect, and the effect a given number of
rows can detect (``wb.plan``).

The spread of the paired differences ``sd`` comes from what the user has:

* a number: the **variance** of the paired differences B − A per row;
* a :class:`~workbench.evaluate.compare.Comparison`: the spread of that comparison's differences on the metric;
* an :class:`~workbench.evaluate.result.EvalResult` (or its rows) holding **repeats** of one configuration
  (A/A): the spread of the differences between two repeats of each row — the run-to-run noise, the smallest
  spread any comparison of that configuration can have;
* an EvalResult without repeats: ``sqrt(2)`` × the spread of the metric across rows, i.e. the differences of
  two independent scorings (pairing usually does better: a conservative plan).

Formula (a two-sided t-test at ``alpha``): the fewest ``n`` with ``(t(1 - alpha/2, n-1) + t(power, n-1)) * sd /
sqrt(n) <= effect`` (:func:`~workbench.evaluate.stats.mde`); the paired test the workbench uses
(``stats.PairedDifference``) is a little more conservative (71-79% power at 10-40 rows, simulated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import WorkbenchError
from . import stats as st


@dataclass(frozen=True)
class Plan:
    """Rows needed to detect ``effect`` with probability ``power``, and the detectable effect at any n."""

    metric: str
    sd: float  # standard deviation of the paired differences per row
    effect: float | None
    power: float
    alpha: float
    source: str  # where sd came from

    @property
    def rows_needed(self) -> int | None:
        """Paired rows needed to detect ``effect`` (None without an effect, or when the differences never vary)."""
        return st.rows_needed(self.sd, self.effect, self.power, self.alpha) if self.effect and self.sd > 0 else None

    def mde(self, n: int) -> float:
        """The smallest true mean difference detected with probability ``power`` on ``n`` paired rows."""
        return st.mde(self.sd, n, self.power, self.alpha)

    def summary(self, ns=(10, 20, 40, 100, 200, 500)) -> pd.DataFrame:
        """The detectable effect at several sizes (and the rows needed for ``effect``)."""
        return pd.DataFrame(
            [
                {
                    "metric": self.metric,
                    "rows": n,
                    "detectable_effect": self.mde(n),
                    "power": self.power,
                    "sd_diff": self.sd,
                    "source": self.source,
                }
                for n in ns
            ]
        )

    def __str__(self) -> str:
        if self.sd == 0:
            return f"{self.metric}: no row differs ({self.source}): no spread to plan from"
        head = f"{self.metric}: sd of paired differences {self.sd:.3g} ({self.source})"
        if self.effect:
            head += f"; {self.rows_needed} rows detect {self.effect:+.3g} with {self.power:.0%} power"
        return head + "; detectable at 40 rows: " + f"{self.mde(40):.3g}"


def _sd_from_rows(rows: pd.DataFrame, metric: str) -> tuple[float, str]:
    if metric not in rows:
        raise WorkbenchError(f"plan: the rows have no column {metric!r}")
    vals = pd.to_numeric(rows[metric], errors="coerce")
    if "repeat" in rows and rows["repeat"].nunique() >= 2:
        keys = ["candidate", "id"] if "candidate" in rows else ["id"]
        wide = rows.assign(_v=vals).pivot_table(index=keys, columns="repeat", values="_v", aggfunc="first")
        r0, r1 = wide.columns[:2]
        d = (wide[r1] - wide[r0]).dropna().to_numpy(float)
        if len(d) >= 2:
            return float(np.std(d, ddof=1)), f"A/A: repeats {r0} and {r1} of {len(d)} rows"
    groups = (
        [g.dropna().to_numpy(float) for _, g in vals.groupby(rows["candidate"])]
        if "candidate" in rows
        else [vals.dropna().to_numpy(float)]
    )
    groups = [g for g in groups if len(g) >= 2]
    if not groups:
        raise WorkbenchError(f"plan: fewer than 2 values of {metric!r}")
    var = float(np.mean([np.var(g, ddof=1) for g in groups]))  # within each candidate, averaged
    n = sum(len(g) for g in groups)
    return float(np.sqrt(2 * var)), f"sqrt(2) x spread across {n} rows (no repeats: conservative)"


def plan(metric: str, baseline, effect: float | None = None, power: float = st.POWER, alpha: float = st.ALPHA) -> Plan:
    """Plan a comparison on ``metric`` (``quality/f1``): ``baseline`` is a variance of the paired differences, a
    Comparison, an EvalResult or a per-row DataFrame (see the module doc). ``.rows_needed`` for ``effect``,
    ``.mde(n)`` for the effect ``n`` rows can detect."""
    from .compare import Comparison
    from .result import EvalResult

    metric = metric.removesuffix("/mean")
    if isinstance(baseline, (int, float)) and not isinstance(baseline, bool):
        if not np.isfinite(baseline) or baseline <= 0:
            raise WorkbenchError(f"plan: a variance must be a positive number, got {baseline}")
        sd, source = float(np.sqrt(baseline)), "given variance"
    elif isinstance(baseline, Comparison):
        t = baseline.table.set_index("metric") if len(baseline.table) else None
        if t is None or metric not in t.index:
            raise WorkbenchError(f"plan: the comparison has no metric {metric!r}")
        sd, source = float(t.loc[metric, "sd_diff"]), f"paired differences of {int(t.loc[metric, 'n'])} rows"
    elif isinstance(baseline, (EvalResult, pd.DataFrame)):
        sd, source = _sd_from_rows(baseline.rows if isinstance(baseline, EvalResult) else baseline, metric)
    else:
        raise WorkbenchError(
            f"plan takes a variance, a Comparison, an EvalResult or rows, got {type(baseline).__name__}"
        )
    if not np.isfinite(sd):
        raise WorkbenchError(f"plan: too few values of {metric!r} to estimate their spread")
    return Plan(metric, sd, effect, power, alpha, source)
