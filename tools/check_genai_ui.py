"""Check issue 29's claims on MLflow's GenAI pages for a project made by ``workbench demo`` (or ``make demo``).

``python tools/check_genai_ui.py --project DIR --shots OUT`` (the project also from ``WORKBENCH_PROJECT_DIR``)
finds the demo's comparison run (``demo-04_compare`` in experiment ``demo``: its evaluation rows, row traces and
evaluation dataset), gives one row a label through the review widget's API (``Review(run, queue=...)``: the row's
trace joins the review queue and gets the ``review/label`` answer), starts ``workbench tracking ui`` on a free port of
127.0.0.1 and drives the system Chromium headless (Playwright by executable path; nothing is downloaded) through the
same five checks as ``tests/browser/test_mlflow_genai_ui.py`` (shared code: ``tests/browser/genai_pages.py``):

  playground  the Playground answers from the local model (AI Gateway endpoint ``local`` → smollm2)
  review      the widget's label shows in the Review page (the item completed, the answer filled in)
  judges      the Judges page lists the workbench metrics (``quality/*``, ``harm/*``)
  datasets    the Datasets page lists the demo's evaluation set
  row_trace   a QA row's trace shows no error assessment, and every metric on it has a rationale

Prints PASS or FAIL with the evidence or the reason for each, saves one screenshot per page under ``--shots``
(``mlflow_playground.png``, ``mlflow_review.png``, ``mlflow_judges.png``, ``mlflow_datasets.png``,
``mlflow_row_trace.png``) and exits 1 when any check fails (2 when the project has no demo run). The UI server is
stopped on exit. Labelling writes to the project's store: a ``review/label`` answer on one row trace of the demo.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "browser")]

import genai_pages as gp  # noqa: E402 - tests/browser/genai_pages.py, shared with the browser test

CHECKS = ("playground", "review", "judges", "datasets", "row_trace")
CLEAN_ENV = ("MLFLOW_TRACKING_URI", "WORKBENCH_RUN_ID", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--project",
        type=Path,
        default=os.environ.get("WORKBENCH_PROJECT_DIR"),
        help="the project made by the demo (default: $WORKBENCH_PROJECT_DIR)",
    )
    p.add_argument("--experiment", default="demo", help="the demo's experiment (default %(default)s)")
    p.add_argument("--run-name", default="demo-04_compare", help="its comparison run (default %(default)s)")
    p.add_argument("--queue", default="review genai-ui-check", help="review queue to label in (default %(default)s)")
    p.add_argument("--label", default="bad", choices=["good", "bad"], help="the label to give (default %(default)s)")
    p.add_argument("--shots", type=Path, required=True, help="folder for the screenshots")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium binary (default %(default)s)")
    p.add_argument("--timeout", type=float, default=180, help="seconds to wait for the UI to start")
    p.add_argument("--only", nargs="+", choices=CHECKS, default=list(CHECKS), help="run only these checks")
    return p.parse_args(argv)


def find_demo(experiment: str, run_name: str) -> dict:
    """The demo's comparison run: its id, the experiment id, its candidates and rows, and the name of its
    evaluation dataset (the run's dataset input of context ``evaluation``)."""
    from workbench import tracking

    c = tracking.client()
    exp = c.get_experiment_by_name(experiment)
    if exp is None:
        sys.exit(f"no experiment {experiment!r} in {tracking.tracking_uri()}: run `workbench demo` first")
    runs = c.search_runs(
        [exp.experiment_id],
        f"attributes.run_name = '{run_name}' and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not runs:
        sys.exit(f"no finished run {run_name!r} in experiment {experiment!r}: run `workbench demo` first")
    run = runs[0]
    rows = tracking.load_table(run.info.run_id, "eval_rows.json")
    datasets = [
        d.dataset.name
        for d in run.inputs.dataset_inputs
        if any(t.key == "mlflow.data.context" and t.value == "evaluation" for t in d.tags)
    ]
    return {
        "experiment": exp.experiment_id,
        "run": run.info.run_id,
        "rows": rows,
        "candidates": sorted(rows["candidate"].dropna().unique()) if "candidate" in rows else [],
        "datasets": sorted(set(datasets)),
    }


def label_a_row(demo: dict, queue: str, label: str) -> dict:
    """Give the first row a label through the review widget (base vs rag when both exist, else the one
    candidate against itself): returns the queue's id and name, the row's question, the labelled trace and the
    queue's counts (reviewed items, all items)."""
    from workbench.evaluate import queues
    from workbench.widgets.review import Review

    cands = demo["candidates"]
    a = "base" if "base" in cands else (cands[0] if cands else None)
    b = "rag" if "rag" in cands else a
    review = Review(demo["run"], candidate_a=a, candidate_b=b, queue=queue)
    if review.queue is None:
        raise RuntimeError(f"no review queue: {review.status.value}")
    review.note.value = "given by tools/check_genai_ui.py"
    first = review.current()
    review.label(label)
    given = queues.queue_labels(review.queue.queue_id)
    return {
        "name": queue,
        "id": review.queue.queue_id,
        "question": str(first["input_a"]),
        "label": label,
        "trace": first["trace_id_b"],
        "candidate": b,
        "reviewed": len(given),
        "items": len(review.traces()),
    }


def start_ui(project: Path, timeout: float) -> tuple[subprocess.Popen, str, Path]:
    """``workbench tracking ui`` on a free port of 127.0.0.1, in its own process group; (process, URL, log)
    once it printed its local AI Gateway endpoint."""
    from workbench.procs import free_port

    port = free_port()
    log = project / ".workbench" / f"check_genai_ui-{port}.log"
    env = {k: v for k, v in os.environ.items() if k not in CLEAN_ENV}
    env.update(WORKBENCH_PROJECT_DIR=str(project), PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]))
    try:
        proc = gp.start_ui(["tracking", "ui", "--port", str(port)], log, gp.gateway_ready, timeout, env, project)
    except RuntimeError as e:
        sys.exit(str(e))
    return proc, f"http://127.0.0.1:{port}", log


def run_checks(url: str, log: Path, demo: dict, queue: dict, args: argparse.Namespace) -> dict[str, tuple[bool, str]]:
    """The five checks in one headless Chromium; {check: (passed, evidence or reason)}."""
    from playwright.sync_api import sync_playwright

    exp = demo["experiment"]
    rows = demo["rows"]
    qa = rows[
        (rows["candidate"] == queue["candidate"]) & rows["trace_id"].notna() & (rows["trace_id"] != queue["trace"])
    ]

    def datasets(ctx) -> str:
        assert demo["datasets"], f"run {demo['run']} has no evaluation dataset input"
        return gp.check_datasets(ctx, url, exp, demo["datasets"][0], args.shots)

    def row_trace(ctx) -> str:
        assert len(qa), f"no traced row of candidate {queue['candidate']} besides the labelled one"
        row = qa.iloc[0]
        return f"row {row['id']} ({queue['candidate']}): " + gp.check_row_trace(
            ctx, url, exp, row["trace_id"], args.shots
        )

    checks = {
        "playground": lambda ctx: gp.check_playground(ctx, url, exp, args.shots, log.read_text()),
        "review": lambda ctx: gp.check_review(ctx, url, exp, queue, args.shots, queue["reviewed"], queue["items"]),
        "judges": lambda ctx: gp.check_judges(ctx, url, exp, args.shots),
        "datasets": datasets,
        "row_trace": row_trace,
    }
    out: dict[str, tuple[bool, str]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
        )
        try:
            for name in args.only:
                check = checks[name]
                ctx = browser.new_context(viewport=gp.VIEWPORT)
                try:
                    out[name] = (True, check(ctx))
                except Exception as e:  # noqa: BLE001 - a failed check is reported, the others still run
                    out[name] = (False, f"{type(e).__name__}: {str(e)[:1500]}")
                finally:
                    ctx.close()
                print(f"{'PASS' if out[name][0] else 'FAIL'} {name}: {out[name][1]}", flush=True)
        finally:
            browser.close()
    return out


def main(argv=None) -> int:
    """Find the demo, label a row, serve the UI, run the checks, stop the UI; 1 when a check failed."""
    args = parse_args(argv)
    if not args.project:
        sys.exit("no project: pass --project or set WORKBENCH_PROJECT_DIR")
    project = Path(args.project).resolve()
    for k in CLEAN_ENV:
        os.environ.pop(k, None)
    os.environ["WORKBENCH_PROJECT_DIR"] = str(project)
    args.shots.mkdir(parents=True, exist_ok=True)
    from workbench.tracking import configure

    configure()
    demo = find_demo(args.experiment, args.run_name)
    queue = label_a_row(demo, args.queue, args.label)
    print(
        "demo:",
        json.dumps(
            {
                "experiment": demo["experiment"],
                "run": demo["run"],
                "candidates": demo["candidates"],
                "datasets": demo["datasets"],
                "queue": {k: v for k, v in queue.items() if k != "question"},
            }
        ),
        flush=True,
    )
    proc, url, log = start_ui(project, args.timeout)
    print(f"UI {url} (log {log})", flush=True)
    try:
        results = run_checks(url, log, demo, queue, args)
    finally:
        gp.stop_ui(proc)
    failed = [n for n, (ok, _) in results.items() if not ok]
    print(f"{len(results) - len(failed)}/{len(results)} checks passed; screenshots in {args.shots}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
