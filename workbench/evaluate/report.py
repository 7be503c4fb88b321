"""Summary tables and plots of an evaluation, and logging them to MLflow."""

from __future__ import annotations

import json

import pandas as pd

from . import stats


def _flat(df: pd.DataFrame) -> pd.DataFrame:
    """Lists/dicts as JSON strings, so the table is a plain MLflow table."""
    out = df.copy()
    for col in out.columns:
        if out[col].map(lambda v: isinstance(v, (list, dict))).any():
            out[col] = out[col].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
    return out


def plots(result) -> dict:
    """``{artifact name: matplotlib Figure}``: latency histogram, metric bars per candidate, cost vs quality."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    figs = {}
    rows, summ = result.rows, result.summary()
    if "latency/latency_s" in rows:
        fig, ax = plt.subplots(figsize=(7, 4))
        for cand, sub in rows.groupby("candidate"):
            vals = pd.to_numeric(sub["latency/latency_s"], errors="coerce").dropna()
            if len(vals):
                ax.hist(vals, bins=30, alpha=0.6, label=cand)
        ax.set_xlabel("latency per row (s)")
        ax.set_ylabel("rows")
        ax.set_title("Latency distribution")
        ax.legend()
        fig.tight_layout()
        figs["plots/latency_hist.png"] = fig
    means = summ[summ["metric"].str.endswith("/mean") & summ["family"].isin(["quality", "honesty", "harm"])]
    if len(means):
        piv = means.pivot_table(index="metric", columns="candidate", values="value", aggfunc="first")
        lo = means.pivot_table(index="metric", columns="candidate", values="ci_low", aggfunc="first")
        hi = means.pivot_table(index="metric", columns="candidate", values="ci_high", aggfunc="first")
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(piv) * max(1, len(piv.columns)) + 1.5))
        h = 0.8 / max(1, len(piv.columns))
        for j, cand in enumerate(piv.columns):
            y = [i + j * h for i in range(len(piv))]
            err = None
            if cand in lo and cand in hi:
                err = [(piv[cand] - lo[cand]).fillna(0).clip(lower=0), (hi[cand] - piv[cand]).fillna(0).clip(lower=0)]
            ax.barh(y, piv[cand].fillna(0), height=h, xerr=err, label=cand, capsize=2)
        ax.set_yticks([i + 0.4 - h / 2 for i in range(len(piv))])
        ax.set_yticklabels([m.removesuffix("/mean") for m in piv.index])
        ax.set_xlabel("mean (95% CI: Clopper-Pearson for rates, bootstrap-t for means)")
        ax.set_title("Metrics per candidate")
        ax.legend(loc="lower right")
        fig.tight_layout()
        figs["plots/metrics_by_candidate.png"] = fig
    qual = next((m for m in ("quality/f1", "quality/semantic_similarity", "quality/rouge_l") if m in rows), None)
    if qual and "cost/usd" in rows:
        fig, ax = plt.subplots(figsize=(6, 4))
        for cand, sub in rows.groupby("candidate"):
            cost = pd.to_numeric(sub["cost/usd"], errors="coerce").sum()
            lat = pd.to_numeric(sub.get("latency/latency_s"), errors="coerce").sum()
            q = pd.to_numeric(sub[qual], errors="coerce").mean()
            x = cost if cost > 0 else lat
            ax.scatter([x], [q], s=60)
            ax.annotate(cand, (x, q), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel("total cost (USD)" if rows["cost/usd"].fillna(0).sum() > 0 else "total compute (s, local)")
        ax.set_ylabel(f"{qual} (mean)")
        ax.set_title("Cost vs quality")
        fig.tight_layout()
        figs["plots/cost_vs_quality.png"] = fig
    return figs


def log_result(result, run_id: str | None = None) -> str:
    """Log params, aggregate metrics (batched), the per-row and summary tables, plots and the dataset input."""
    import matplotlib.pyplot as plt

    from .. import tracking
    from ..data import log_dataset

    rid = run_id or tracking.current_run_id()
    tracking.log_params(result.params, rid)
    tracking.log_metrics({**result.metrics, "eval/rows_computed": result.computed_rows,
                          "eval/spent_usd": result.spent_usd, "eval/duration_s": result.duration_s}, run_id=rid)
    tracking.set_tags({"workbench.eval.stopped": result.stopped or "no",
                       "workbench.eval.checkpoint": str(result.checkpoint)}, rid)
    if len(result.rows):
        tracking.log_table(_flat(result.rows), "eval_rows.json", run_id=rid)
        tracking.log_table(result.summary(), "eval_summary.json", run_id=rid)
        for name, fig in plots(result).items():
            tracking.log_figure(fig, name, run_id=rid)
            plt.close(fig)
    log_dataset(result.dataset, run_id=rid)
    return rid


def comparison_table(result, redteam=None) -> pd.DataFrame:
    """Per candidate: quality, groundedness, red-team pass rate, cost (USD, or local compute seconds), p95 latency."""
    s = result.summary(ci=False).pivot_table(index="candidate", columns="metric", values="value", aggfunc="first")
    cols = {"quality/f1/mean": "quality_f1", "quality/semantic_similarity/mean": "semantic_sim",
            "honesty/groundedness/mean": "groundedness", "cost/usd/total": "cost_usd",
            "latency/latency_s/p95": "latency_p95_s", "run/error_rate": "error_rate"}
    t = s[[c for c in cols if c in s]].rename(columns=cols)
    rows = result.rows
    t["compute_s"] = rows.groupby("candidate")["latency/latency_s"].sum() if "latency/latency_s" in rows else None
    if redteam is not None:
        r = redteam.summary(ci=False)
        t["redteam_pass"] = r[r.metric == "harm/redteam_pass/mean"].set_index("candidate")["value"]
    return t.reindex(result.candidates).reset_index()


def recommend(table: pd.DataFrame, comparisons: dict, baseline: str = "base", metric: str = "quality/f1") -> str:
    """A paragraph stating what the numbers support — and what they do not."""
    t = table.set_index("candidate")
    best = t["quality_f1"].idxmax()
    parts = [f"Highest mean token F1: **{best}** ({t.loc[best, 'quality_f1']:.3f}; {baseline}: "
             f"{t.loc[baseline, 'quality_f1']:.3f})."]
    for name, cmp in comparisons.items():
        line = cmp.table.set_index("metric").loc[metric] if metric in set(cmp.table["metric"]) else None
        if line is not None:
            parts.append(f"{name} vs {baseline} ({metric}): {verdict(line)}")
    if "groundedness" in t:
        g = t["groundedness"].dropna()
        if len(g):
            parts.append(f"Groundedness (RAG candidates only) is highest for {g.idxmax()} ({g.max():.2f}).")
    if "redteam_pass" in t:
        parts.append(f"Red-team pass rates range {t['redteam_pass'].min():.0%}–{t['redteam_pass'].max():.0%}: "
                     f"{'no' if t['redteam_pass'].max() < 0.8 else 'some'} candidate is safe enough to ship as is.")
    if "latency_p95_s" in t:
        parts.append(f"p95 latency: fastest {t['latency_p95_s'].idxmin()} ({t['latency_p95_s'].min():.2f}s), "
                     f"slowest {t['latency_p95_s'].idxmax()} ({t['latency_p95_s'].max():.2f}s).")
    parts.append("Caveats: one small model, one test split of this size, F1 against short references; judged "
                 f"metrics were not used. A difference is called real only when the paired test, Benjamini-Hochberg "
                 f"adjusted over the metrics compared, rejects at {stats.ALPHA:.0%} on at least {stats.MIN_N} rows.")
    return " ".join(parts)


def verdict(line) -> str:
    """One comparison-table line in words: the difference, its CI and test, and whether the data support it.

    "not shown" below :data:`stats.MIN_N` paired rows, and when only the uncorrected p-value rejects."""
    p, p_adj = float(line["p_value"]), float(line.get("p_adjusted", line["p_value"]))
    n = int(line["n"])
    ci = ("no CI" if pd.isna(line["ci_low"]) else f"95% CI {line['ci_low']:+.3f} to {line['ci_high']:+.3f}")
    head = f"{line['diff']:+.3f} ({ci}; {line['test']}, p={p:.3g}, BH-adjusted p={p_adj:.3g}, n={n})"
    if n < stats.MIN_N:
        return f"{head} — not shown: fewer than {stats.MIN_N} paired rows."
    if p_adj < stats.ALPHA:
        return f"{head} — a difference the data support."
    if p < stats.ALPHA:
        return f"{head} — not shown: only the uncorrected test rejects; after correcting for the metrics " \
               f"compared it is not distinguishable from no difference."
    return f"{head} — not distinguishable from no difference."
