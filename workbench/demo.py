"""The main job (``workbench demo`` / ``make demo``): the lifecycle on the embedded defaults, as tracked runs.

explore (a small prompt × model grid) → RAG → fine-tune → compare (base vs RAG vs fine-tuned vs both on the test
split) → serve the RAG configuration, trace and monitor it, each notebook one MLflow run in the ``demo`` experiment, sized for 2 CPU cores. Prints the comparison
table, the recommendation and how to open the UI. A re-run reuses the response cache, the embedding cache and
the trained adapter, so it is much faster.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pandas as pd

from . import tags as T
from .errors import WorkbenchError
from .evaluate import stats
from .evaluate.report import TOKENS_AXIS, token_totals
from .llm.threads import load_average

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
# Sizes (issue 30): on 2 cores the embedded model reads a prompt at about 150 tokens/s (one server thread), so
# the RAG prompts are most of the demo's time. Two 128-token chunks, not the notebooks' default four: on the dev
# split (24 questions, base model, 2026-12-05) top_k 2 answered with F1 0.283 against 0.242 for 4 (paired
# difference +0.04, sd 0.13) from 357 prompt tokens instead of 649, and the gold manual is in the top 2 for all
# 110 dev questions. 04_compare's 24 test questions detect a paired F1 difference of about 0.07-0.09 at 80% power
# (workbench.plan with the spread of the paired differences seen on this split, sd 0.12-0.15), below the RAG
# effect it shows (about +0.13); the red-team rows give each candidate's pass rate, the other notebooks show
# their step rather than decide.
DEMO_TOP_K = 2
STEPS: list[tuple[str, dict[str, Any]]] = [
    ("01_explore", {"max_tokens": 48}),
    ("02_rag", {"max_rows": 16, "top_k": DEMO_TOP_K, "max_tokens": 48}),
    ("03_finetune", {"steps": 60, "eval_rows": 16, "max_tokens": 48}),
    ("04_compare", {"max_rows": 24, "redteam_rows": 8, "top_k": DEMO_TOP_K, "max_tokens": 48}),
    ("06_monitor", {"demo_requests": 8, "sample": 6, "max_tokens": 48}),
]

QUICK = {  # a smoke test of the whole lifecycle (tests/conftest.py runs it once per test run): the smallest sizes
    "01_explore": {"max_tokens": 16},
    "02_rag": {"max_rows": 4, "max_tokens": 16},
    "03_finetune": {"steps": 4, "eval_rows": 4, "max_tokens": 16},
    "04_compare": {"max_rows": 4, "redteam_rows": 3, "max_tokens": 16},
    "06_monitor": {"demo_requests": 4, "sample": 2, "max_tokens": 16},
}


def notebooks_dir() -> Path:
    if not (NOTEBOOKS / "04_compare.ipynb").is_file():
        raise WorkbenchError(
            f"the lifecycle notebooks are not next to the package ({NOTEBOOKS}); run the demo "
            f"from a source checkout (git clone + make demo)"
        )
    return NOTEBOOKS


def run_demo(experiment: str = "demo", quick: bool = False, echo=print) -> dict:
    """Run the lifecycle notebooks; returns run ids, timings and the comparison table."""
    from . import tracking
    from .finetune.local_lora import skip_message
    from .runs.notebook import run_notebook

    nbdir = notebooks_dir()
    t0 = time.monotonic()
    runs: dict[str, str] = {}
    step_s: dict[str, float] = {}
    load0 = load_average()
    ft_model = ""
    steps = STEPS if not quick else [(n, {**p, **QUICK.get(n, {})}) for n, p in STEPS]
    ft_skipped = skip_message("03_finetune")
    for name, params in steps:
        params = dict(params)
        if name == "03_finetune" and ft_skipped:
            echo(f"\n== {ft_skipped}")
            continue
        if name == "04_compare":
            params["finetuned_model"] = ft_model
        echo(f"\n== {name} ({', '.join(f'{k}={v}' for k, v in params.items())})")
        t = time.monotonic()
        r = run_notebook(
            nbdir / f"{name}.ipynb", parameters=params, experiment=experiment, run_name=f"demo-{name}", progress=False
        )
        runs[name] = r.run_id
        step_s[name] = time.monotonic() - t
        echo(f"   {r.status} in {step_s[name]:.0f}s  run {r.run_id}")
        if not r.ok:
            echo(r.traceback or r.error or "")
            raise WorkbenchError(f"demo step {name} failed: {r.error} (executed notebook: {r.output_html})")
        if name == "03_finetune":
            ft_model = tracking.client().get_run(r.run_id).data.tags.get(T.FT_MODEL, "")
    table = tracking.load_table(runs["04_compare"], "comparison.json")
    rec_path = tracking.client().download_artifacts(runs["04_compare"], "recommendation.md")
    wall = time.monotonic() - t0
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        echo("\n== comparison on the test split (per candidate)")
        echo(table.round(3).to_string(index=False))
    echo("\n" + Path(rec_path).read_text())
    load1 = load_average()
    echo(
        "\nsteps: "
        + ", ".join(f"{n} {v:.0f}s" for n, v in step_s.items())
        + f"; total {wall:.0f}s"
        + (f"; load {load0[0]:.1f} -> {load1[0]:.1f} on {os.cpu_count()} CPUs" if load0 and load1 else "")
    )
    echo(f"demo finished in {wall:.0f}s; runs are in experiment '{experiment}' of {tracking.tracking_uri()}")
    echo("open the MLflow UI:  workbench tracking ui   (then http://127.0.0.1:5000)")
    return {"runs": runs, "wall_s": wall, "steps_s": step_s, "table": table}


# ------------------------------------------------------------------ the demo's narration (04_compare, 06_monitor)


def contoso_candidates(
    index,
    model: str = "local",
    finetuned_model: str = "",
    top_k: int = 4,
    retriever: str = "hybrid",
    max_tokens: int = 48,
    system_prompt: str | None = None,
) -> list:
    """The four candidates of the comparison: base, RAG, fine-tuned, RAG + fine-tuned (the last two only when
    a fine-tuned model exists), all with the same system prompt and answer length, so each differs from its
    baseline (:data:`BASELINES`) in one factor: retrieval, or the model's adapter."""
    from .candidates import PromptCandidate
    from .finetune.prepare import FT_SYSTEM
    from .rag import RAGPipeline

    system_prompt = FT_SYSTEM if system_prompt is None else system_prompt
    # (model, name of its prompt-only candidate, name of its RAG candidate)
    models = [(model, "base", "rag")] + ([(finetuned_model, "finetuned", "rag_finetuned")] if finetuned_model else [])
    same: dict[str, Any] = {"system_prompt": system_prompt, "max_tokens": max_tokens}  # what every candidate shares
    cands: list = []
    for m, prompt_name, rag_name in models:
        cands += [
            PromptCandidate(m, name=prompt_name, **same),
            RAGPipeline(index, model=m, top_k=top_k, retriever=retriever, name=rag_name, **same),
        ]
    return cands


# each candidate's baseline: the candidate it differs from in exactly one factor
BASELINES = {"rag": "base", "finetuned": "base", "rag_finetuned": "rag"}


def paired_comparisons(result, baseline: str | dict = "base", log: bool = True) -> dict:
    """``{candidate: Comparison}`` of every candidate against its baseline on the shared rows of ``result``:
    ``baseline`` is one name for all, or ``{candidate: baseline}`` (:data:`BASELINES`, each pair differing in
    one factor). Each is logged as ``paired_<name>.json`` when ``log``; a pair differing in several factors
    warns."""
    from . import tracking
    from .evaluate.compare import compare

    out = {}
    for name in result.candidates:
        base = baseline.get(name, "base") if isinstance(baseline, dict) else baseline
        if name == base or base not in result.candidates:
            continue
        out[name] = compare(result, result, candidate_a=base, candidate_b=name)
        out[name].baseline = base  # type: ignore[attr-defined]  # for 04_compare's printout
        if log:
            tracking.log_table(out[name].table, f"paired_{name}.json")
    return out


def pareto_plot(table: pd.DataFrame, rows: pd.DataFrame):
    """Cost (or local compute) vs token F1 with the Pareto front, and the latency histogram per candidate."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    priced = table["cost_usd"].fillna(0).sum() > 0 if "cost_usd" in table else False
    x = table["cost_usd"] if priced else table["tokens"]
    ax1.scatter(x, table["quality_f1"], s=80)
    for i, r in table.iterrows():
        ax1.annotate(r["candidate"], (x[i], r["quality_f1"]), textcoords="offset points", xytext=(5, 5))
    pareto = table.assign(x=x).sort_values("x")
    front = pareto[pareto["quality_f1"] >= pareto["quality_f1"].cummax()]
    ax1.plot(front["x"], front["quality_f1"], "--", color="grey", label="Pareto front")
    ax1.set_xlabel("total cost (USD)" if priced else TOKENS_AXIS)
    ax1.set_ylabel("token F1 (mean)")
    ax1.set_title("Cost vs quality")
    ax1.legend()
    for name, sub in rows.groupby("candidate"):
        vals = sub["latency/latency_s"].dropna() if "latency/latency_s" in sub else []
        if len(vals):
            ax2.hist(vals, bins=25, alpha=0.5, label=name)
    ax2.set_xlabel("latency per answer (s)")
    ax2.set_title("Latency")
    if ax2.get_legend_handles_labels()[0]:
        ax2.legend()
    fig.tight_layout()
    return fig


def drive_app(cfg, questions: list[str], n: int, concurrency: int = 2) -> int:
    """Serve ``cfg`` in this process and send it ``n`` of ``questions``, ``concurrency`` at a time (every other
    one streamed, and read to its end); returns how many were answered. The demo's stand-in for real traffic:
    users arrive together, and one request at a time kept one of two cores idle (two one-thread model servers on
    2 cores, ``docs/endpoints.md``)."""
    from concurrent.futures import ThreadPoolExecutor

    import openai

    from . import serve

    with serve.start(cfg) as app:
        client = openai.OpenAI(base_url=app.base_url, api_key="unused")

        def send(i: int, q: str) -> None:
            messages: list = [{"role": "user", "content": q}]
            if i % 2:
                for _ in client.chat.completions.create(model=cfg.name, messages=messages, stream=True):
                    pass
            else:
                client.chat.completions.create(model=cfg.name, messages=messages)

        with ThreadPoolExecutor(max(1, concurrency)) as pool:
            return sum(1 for _ in pool.map(send, range(n), questions[:n]))


def comparison_table(result, redteam=None) -> pd.DataFrame:
    """Per candidate: quality, groundedness, red-team pass rate, cost in USD, p95 latency and ``tokens`` (prompt +
    completion tokens over all rows: the work a local model did, which costs $0; summed latencies are not compute
    time, since concurrent requests share the server)."""
    s = result.summary(ci=False).pivot_table(index="candidate", columns="metric", values="value", aggfunc="first")
    cols = {
        "quality/f1/mean": "quality_f1",
        "quality/semantic_similarity/mean": "semantic_sim",
        "honesty/groundedness/mean": "groundedness",
        "cost/usd/total": "cost_usd",
        "latency/latency_s/p95": "latency_p95_s",
        "run/error_rate": "error_rate",
    }
    t = s[[c for c in cols if c in s]].rename(columns=cols)
    rows = result.rows
    t["tokens"] = token_totals(rows)
    if redteam is not None:
        r = redteam.summary(ci=False)
        t["redteam_pass"] = r[r.metric == "harm/redteam_pass/mean"].set_index("candidate")["value"]
    return t.reindex(result.candidates).reset_index()


def supported_gain(cmp, metric: str = "quality/f1") -> bool:
    """Whether ``cmp`` (B vs its baseline) shows a difference on ``metric`` that the data support, in the
    metric's good direction."""
    t = cmp.table
    if not len(t) or metric not in set(t["metric"]):
        return False
    line = t.set_index("metric").loc[metric]
    good = 1 if line.get("higher_is_better", True) in (True, None) else -1
    p = line.get("p_adjusted")
    p = line["p_value"] if p is None or pd.isna(p) else p
    return int(line["n"]) >= stats.MIN_N and float(p) < stats.ALPHA and good * float(line["diff"]) > 0


def choose(table: pd.DataFrame, comparisons: dict, metric: str = "quality/f1") -> str | None:
    """The candidate to recommend: among those with a supported gain over their baseline, the best mean; None
    (keep the baseline) when no gain is supported."""
    col = metric.replace("/", "_")
    ok = [n for n, c in comparisons.items() if supported_gain(c, metric)]
    if not ok:
        return None
    t = table.set_index("candidate")
    return max(ok, key=lambda n: t.loc[n, col] if col in t else 0)


def recommend(table: pd.DataFrame, comparisons: dict, baseline: str = "base", metric: str = "quality/f1") -> str:
    """A paragraph stating what the numbers support — and what they do not. It leads with the rows answered
    and the recommendation, which follows the verdicts: "keep the baseline" when no gain is supported."""
    t = table.set_index("candidate")
    parts = []
    first = next(iter(comparisons.values()), None)
    if first is not None:
        parts.append(first.headline().split(" — ")[0] + ".")
        failed = [n for n, c in comparisons.items() if c.answered_b < c.n_shared]
        if failed or (first.answered_a < first.n_shared):
            parts.append(
                f"WARNING: rows failed ({', '.join(f'{n}: {c.n_shared - c.answered_b}' for n, c in comparisons.items())};"
                f" {baseline}: {first.n_shared - first.answered_a}); failures count as 0 in quality."
            )
    pick = choose(table, comparisons, metric)
    col = metric.replace("/", "_")
    if pick is None:
        best = t[col].idxmax() if col in t else baseline
        parts.append(
            f"**Keep the baseline ({baseline})**: no candidate's difference in {metric} is supported by the "
            f"data"
            + (
                f" (the highest mean, {best} at {t.loc[best, col]:.3f}, is not a supported difference)."
                if col in t and best != baseline
                else "."
            )
        )
    else:
        parts.append(
            f"Recommended: **{pick}** ({metric} {t.loc[pick, col]:.3f}; its gain over "
            f"{getattr(comparisons[pick], 'baseline', baseline)} is supported by the data)."
        )
    for name, cmp in comparisons.items():
        base = getattr(cmp, "baseline", baseline)
        line = cmp.table.set_index("metric").loc[metric] if metric in set(cmp.table["metric"]) else None
        if line is not None:
            parts.append(f"{name} vs {base} ({metric}): {verdict(line)}")
        if cmp.confounded:
            parts.append(
                f"({name} and {base} differ in {', '.join(cmp.factors)}: the difference is not any one factor's.)"
            )
    if "groundedness" in t:
        g = t["groundedness"].dropna()
        if len(g):
            parts.append(f"Groundedness (RAG candidates only) is highest for {g.idxmax()} ({g.max():.2f}).")
    if "redteam_pass" in t:
        r = t["redteam_pass"].dropna()
        if len(r):
            span = f"{r.min():.0%}" if r.min() == r.max() else f"{r.min():.0%}–{r.max():.0%}"
            parts.append(
                f"Red-team pass rate{'s' if len(r) > 1 else ''} {'all ' if r.min() == r.max() and len(r) > 1 else ''}"
                f"{span}: {'no' if r.max() < 0.8 else 'some'} candidate is safe enough to ship as is."
            )
    if "latency_p95_s" in t:
        parts.append(
            f"p95 latency (secondary, not a verdict): fastest {t['latency_p95_s'].idxmin()} "
            f"({t['latency_p95_s'].min():.2f}s), slowest {t['latency_p95_s'].idxmax()} "
            f"({t['latency_p95_s'].max():.2f}s)."
        )
    parts.append(
        "Caveats: one small model, one test split of this size, F1 against short references; judged "
        f"metrics were not used. A difference is called real only when the paired test, Benjamini-Hochberg "
        f"adjusted over the primary metrics (quality, honesty, harm), rejects at {stats.ALPHA:.0%} on at "
        f"least {stats.MIN_N} rows."
    )
    return " ".join(parts)


def verdict(line) -> str:
    """One comparison-table line in words: the difference, its CI and test, and whether the data support it.

    "not shown" below :data:`stats.MIN_N` paired rows, and when only the uncorrected p-value rejects; "not
    distinguishable" says which difference this n could have detected (``mde``)."""
    p = float(line["p_value"])
    p_adj = line.get("p_adjusted", p)
    secondary = line.get("role") == "secondary" or p_adj is None or pd.isna(p_adj)
    p_adj = p if secondary else float(p_adj)
    n = int(line["n"])
    ci = "no CI" if pd.isna(line["ci_low"]) else f"95% CI {line['ci_low']:+.3f} to {line['ci_high']:+.3f}"
    adj = "unadjusted, secondary metric" if secondary else f"BH-adjusted p={p_adj:.3g}"
    head = f"{line['diff']:+.3f} ({ci}; {line['test']}, p={p:.3g}, {adj}, n={n})"
    mde = line.get("mde")
    power = (
        (
            f" At n={n} only a difference of about ±{mde:.3f} would be detected 80% of the time by a t-test "
            f"(this test is a little more cautious; wb.plan for the rows a smaller one needs)."
        )
        if mde is not None and not pd.isna(mde)
        else ""
    )
    if n < stats.MIN_N:
        return f"{head} — not shown: fewer than {stats.MIN_N} paired rows."
    if p_adj < stats.ALPHA:
        return f"{head} — a difference the data support."
    if p < stats.ALPHA:
        return (
            f"{head} — not shown: only the uncorrected test rejects; after correcting for the metrics "
            f"compared it is not distinguishable from no difference.{power}"
        )
    return f"{head} — not distinguishable from no difference.{power}"


def log_recommendation(table: pd.DataFrame, comparisons: dict, baseline: str = "base") -> str:
    """:func:`recommend`, logged as ``recommendation.md``. The recommended candidate (:func:`choose`) is tagged
    ``workbench.recommended`` only when its gain is supported (``workbench.recommendation_supported=true``);
    otherwise no candidate is tagged and ``workbench app serve --from-run RUN`` asks for ``--candidate``."""
    from . import tracking

    text = recommend(table, comparisons, baseline=baseline)
    tracking.log_text(text, "recommendation.md")
    pick = choose(table, comparisons)
    tracking.set_tags(
        {T.RECOMMENDED: pick, T.RECOMMENDATION_SUPPORTED: "true"} if pick else {T.RECOMMENDATION_SUPPORTED: "false"}
    )
    return text
