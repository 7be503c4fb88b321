"""The main job (``workbench demo`` / ``make demo``): the lifecycle on the embedded defaults, as tracked runs.

explore (a small prompt × model grid) → RAG → fine-tune → compare (base vs RAG vs fine-tuned vs both on the test
split) → serve the RAG configuration, trace and monitor it, each notebook one MLflow run in the ``demo`` experiment, sized for 2 CPU cores. Prints the comparison
table, the recommendation and how to open the UI. A re-run reuses the response cache, the embedding cache and
the trained adapter, so it is much faster.
"""

from __future__ import annotations

import time
from pathlib import Path

import pandas as pd

from .errors import WorkbenchError

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
STEPS = [
    ("01_explore", {"max_tokens": 48}),
    ("02_rag", {"max_rows": 30, "max_tokens": 48}),
    ("03_finetune", {"steps": 100, "eval_rows": 30, "max_tokens": 48}),
    ("04_compare", {"max_rows": 40, "redteam_rows": 20, "max_tokens": 48}),
    ("06_monitor", {"demo_requests": 16, "sample": 8, "max_tokens": 48}),
]

QUICK = {"02_rag": {"max_rows": 8}, "03_finetune": {"steps": 10, "eval_rows": 6},
         "04_compare": {"max_rows": 8, "redteam_rows": 6}, "06_monitor": {"demo_requests": 6, "sample": 3}}


def notebooks_dir() -> Path:
    if not (NOTEBOOKS / "04_compare.ipynb").is_file():
        raise WorkbenchError(f"the lifecycle notebooks are not next to the package ({NOTEBOOKS}); run the demo "
                             f"from a source checkout (git clone + make demo)")
    return NOTEBOOKS


def run_demo(experiment: str = "demo", quick: bool = False, echo=print) -> dict:
    """Run the lifecycle notebooks; returns run ids, timings and the comparison table."""
    from . import tracking
    from .finetune.local_lora import skip_message
    from .runs.notebook import run_notebook

    nbdir = notebooks_dir()
    t0 = time.monotonic()
    runs: dict[str, str] = {}
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
        r = run_notebook(nbdir / f"{name}.ipynb", parameters=params, experiment=experiment, run_name=f"demo-{name}",
                         progress=False)
        runs[name] = r.run_id
        echo(f"   {r.status} in {time.monotonic() - t:.0f}s  run {r.run_id}")
        if not r.ok:
            echo(r.traceback or r.error or "")
            raise WorkbenchError(f"demo step {name} failed: {r.error} (executed notebook: {r.output_html})")
        if name == "03_finetune":
            ft_model = tracking.client().get_run(r.run_id).data.tags.get("workbench.ft.model", "")
    table = tracking.load_table(runs["04_compare"], "comparison.json")
    rec_path = tracking.client().download_artifacts(runs["04_compare"], "recommendation.md")
    wall = time.monotonic() - t0
    with pd.option_context("display.width", 160, "display.max_columns", 12):
        echo("\n== comparison on the test split (per candidate)")
        echo(table.round(3).to_string(index=False))
    echo("\n" + Path(rec_path).read_text())
    echo(f"\ndemo finished in {wall:.0f}s; runs are in experiment '{experiment}' of {tracking.tracking_uri()}")
    echo("open the MLflow UI:  workbench ui   (then http://127.0.0.1:5000)")
    return {"runs": runs, "wall_s": wall, "table": table}
