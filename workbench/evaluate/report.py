"""Summary tables and plots of an evaluation, and logging them to MLflow."""

from __future__ import annotations

import json

import pandas as pd

from .. import tags as T


def flat_table(df: pd.DataFrame) -> pd.DataFrame:
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
        priced = pd.to_numeric(rows["cost/usd"], errors="coerce").fillna(0).sum() > 0
        tokens = token_totals(rows)
        for cand, sub in rows.groupby("candidate"):
            x = pd.to_numeric(sub["cost/usd"], errors="coerce").sum() if priced else tokens.get(cand, float("nan"))
            q = pd.to_numeric(sub[qual], errors="coerce").mean()
            ax.scatter([x], [q], s=60)
            ax.annotate(cand, (x, q), textcoords="offset points", xytext=(5, 5))
        ax.set_xlabel("total cost (USD)" if priced else TOKENS_AXIS)
        ax.set_ylabel(f"{qual} (mean)")
        ax.set_title("Cost vs quality")
        fig.tight_layout()
        figs["plots/cost_vs_quality.png"] = fig
    return figs


TOKENS_AXIS = "tokens processed (prompt + completion; the local model costs $0)"


def token_totals(rows: pd.DataFrame) -> pd.Series:
    """Prompt + completion tokens per candidate over all rows: the work a $0 local model did. (Summed latencies
    are not its compute time: concurrent requests share the server, so each one's latency counts the others'.)"""
    cols = [c for c in ("cost/prompt_tokens", "cost/completion_tokens") if c in rows]
    if not cols or "candidate" not in rows:
        return pd.Series(dtype=float)
    return (
        rows[cols]
        .apply(pd.to_numeric, errors="coerce")
        .sum(axis=1, min_count=1)
        .groupby(rows["candidate"])
        .sum(min_count=1)
    )


def log_result(result, run_id: str | None = None) -> str:
    """Log params, aggregate metrics (batched), the per-row and summary tables, plots and the dataset input."""
    import matplotlib.pyplot as plt

    from .. import tracking
    from ..data import log_dataset

    rid = run_id or tracking.current_run_id()
    tracking.log_params(result.params, rid)
    tracking.log_metrics(
        {
            **result.metrics,
            "eval/rows_computed": result.computed_rows,
            "eval/spent_usd": result.spent_usd,
            "eval/duration_s": result.duration_s,
        },
        run_id=rid,
    )
    tracking.set_tags(
        {T.EVAL_STOPPED: result.stopped or "no", T.EVAL_CHECKPOINT: str(result.checkpoint), **result.tags}, rid
    )
    if len(result.rows):
        tracking.log_table(flat_table(result.rows), "eval_rows.json", run_id=rid)
        tracking.log_table(result.summary(), "eval_summary.json", run_id=rid)
        for name, fig in plots(result).items():
            tracking.log_figure(fig, name, run_id=rid)
            plt.close(fig)
    log_dataset(result.dataset, run_id=rid)
    return rid
