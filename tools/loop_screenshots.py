"""Screenshots of the lifecycle loop in the real MLflow UI (``python tools/loop_screenshots.py --project DIR``).

Run ``notebooks/06_monitor.ipynb`` first (``workbench run``) until it promoted a challenger, then point this
at the same store. It starts ``workbench ui`` on a free port of 127.0.0.1 (or uses ``--url``), drives headless
Chromium with Playwright (the system Chromium; nothing is downloaded) and writes, under ``--out``:

- ``mlflow_loop_traces.png``: the app's served traces a reviewer labelled bad (Filters: Feedback
  ``review/label`` = ``bad``), with their groundedness and label assessments;
- ``mlflow_loop_dataset.png``: the evaluation dataset the harvest made from them (question, source trace,
  tags; the records view has no outputs column);
- ``mlflow_loop_runs.png``: the notebook run that promoted, expanded: its harvest, challenge (one child run per
  candidate) and promote runs with their ``workbench.lineage.*`` tags;
- ``mlflow_loop_model.png``: the registered model's versions, the alias on the promoted one.

The runs, dataset and app are found from the alias: the version it names, the ``promote`` run that moved it,
that run's parent (the notebook run) and its ``harvest`` sibling. The UI server is stopped on exit.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
import genai_pages as gp  # noqa: E402 - tests/browser/genai_pages.py: starting and stopping the UI

VIEWPORT = {"width": 1400, "height": 900}
LINEAGE_COLUMNS = [
    "workbench.lineage.dataset",
    "workbench.lineage.model_id",
    "workbench.lineage.served_model_id",
    "workbench.lineage.evidence_run",
]
HIDDEN_RUN_COLUMNS = ["Dataset", "Source", "Models"]
COLUMN_WIDTHS = {"attributes.`Run Name`": 282, **{f"tags.`{t}`": 172 for t in LINEAGE_COLUMNS}}


def parse_args(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] + "\n\n" + __doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--project",
        type=Path,
        help="workbench project whose <project>/mlflow.db to read "
        "(sets WORKBENCH_PROJECT_DIR; default: the usual project lookup)",
    )
    p.add_argument("--tracking-uri", help="MLflow tracking URI instead of the project's store")
    p.add_argument("--url", help="an MLflow UI already serving that store (default: start `workbench ui`)")
    p.add_argument("--model", default="contoso-rag", help="registered model the app serves (default %(default)s)")
    p.add_argument("--alias", default="production", help="its alias (default %(default)s)")
    p.add_argument("--out", type=Path, default=ROOT / "docs", help="folder for the PNGs (default: docs/)")
    p.add_argument("--chromium", default="/usr/bin/chromium", help="Chromium binary (default %(default)s)")
    p.add_argument("--timeout", type=float, default=90, help="seconds to wait for the UI and each page")
    return p.parse_args(argv)


def find_loop(model: str, alias: str) -> dict:
    """The loop's entities in the store: experiment, notebook, harvest, challenge and promote runs, dataset id,
    the app's experiment and the promoted version, all found from ``model@alias``."""
    from workbench import tracking

    c = tracking.client()
    mv = c.get_model_version_by_alias(model, alias)
    model_id = mv.tags.get("workbench.model_id") or mv.model_id
    exps = [e.experiment_id for e in c.search_experiments()]
    promotes = c.search_runs(
        exps,
        f"tags.`workbench.kind` = 'promote' and tags.`workbench.lineage.model_id` = '{model_id}'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    if not promotes:
        sys.exit(
            f"no promote run moved {model}@{alias} to {model_id}: run notebooks/06_monitor.ipynb until it promotes"
        )
    promote = promotes[0]
    parent = promote.data.tags.get("mlflow.parentRunId")
    exp = promote.info.experiment_id
    harvest = (
        c.search_runs(
            [exp], f"tags.`workbench.kind` = 'harvest' and tags.`mlflow.parentRunId` = '{parent}'", max_results=1
        )
        if parent
        else []
    )
    if not harvest:
        sys.exit(f"no harvest run beside promote run {promote.info.run_id}")
    h = harvest[0].data.tags
    app_exp = c.get_experiment_by_name(h["workbench.lineage.app"])
    return {
        "experiment": exp,
        "notebook": parent,
        "promote": promote.info.run_id,
        "challenge": promote.data.tags.get("workbench.lineage.evidence_run"),
        "harvest": harvest[0].info.run_id,
        "dataset_id": h["workbench.lineage.dataset_id"],
        "app_experiment": app_exp.experiment_id,
        "version": mv.version,
    }


def start_ui(timeout: float) -> tuple[subprocess.Popen, str]:
    """``workbench ui`` on a free port of 127.0.0.1, in its own process group; (process, URL) once it answers."""
    import tempfile

    from workbench.procs import free_port, health

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = Path(tempfile.mkdtemp(prefix="wb-ui-")) / "ui.log"
    try:
        return gp.start_ui(["ui", "--port", str(port)], log, lambda _: health(url), timeout), url
    except RuntimeError as e:
        sys.exit(str(e))


def open_page(ctx, url: str, ready_text: str, timeout_ms: float):
    """A new page at ``url`` once ``ready_text`` shows, with pop-ups, the assistant panel and the sidebar closed."""
    page = ctx.new_page()
    page.goto(url, wait_until="load", timeout=timeout_ms)
    page.get_by_text(ready_text, exact=False).first.wait_for(timeout=timeout_ms)
    page.wait_for_timeout(1000)
    for popup in (
        page.get_by_role("button", name="Got it"),  # a feature tour's pop-up
        page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]'),
        page.get_by_role("button", name="Toggle sidebar"),
    ):
        if popup.count():
            popup.first.click()
            page.wait_for_timeout(300)
    return page


def check(page, name: str) -> None:
    """Refuse a page showing an error or still loading."""
    body = page.inner_text("body")
    for bad in ("Something went wrong", "Error loading", "Failed to load"):
        if bad in body:
            sys.exit(f"{name}: the page shows {bad!r}")
    if page.locator(".du-bois-light-spin-spinning, [data-testid=spinner]").count():
        page.wait_for_timeout(3000)


def shot(page, path: Path, bottom_selector: str | None = None) -> None:
    """Save the viewport (cut below the last ``bottom_selector`` element, plus a margin) as a PNG."""
    page.mouse.move(1, VIEWPORT["height"] - 1)  # no hover highlight, no focus outline
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(1500)
    clip = None
    if bottom_selector:
        bottom = page.evaluate(
            "s => Math.max(0, ...[...document.querySelectorAll(s)].map(e => e.getBoundingClientRect().bottom))",
            bottom_selector,
        )
        if bottom:
            clip = {"x": 0, "y": 0, "width": VIEWPORT["width"], "height": min(VIEWPORT["height"], int(bottom) + 16)}
    page.screenshot(path=str(path), clip=clip)
    print(f"{path}  ({path.stat().st_size // 1024} KB)")


def set_run_columns(page) -> None:
    """Show the lineage tags and hide the Dataset, Source and Models columns of the runs table."""
    button = page.get_by_role("button", name="Columns", exact=True)
    for name in LINEAGE_COLUMNS + HIDDEN_RUN_COLUMNS:
        button.click()
        page.get_by_placeholder("Search columns").fill(name)
        node = page.locator("[data-testid=column-selector-tree] .du-bois-light-tree-treenode")
        node.filter(has_text=re.compile(rf"^\s*{re.escape(name)}\s*$")).first.locator(
            ".du-bois-light-tree-checkbox"
        ).click()
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)


def resize_columns(page, widths: dict[str, int]) -> None:
    """Drag the resize handle of each runs-table header (by its ag-grid ``col-id``) to the given width."""
    for col, width in widths.items():
        header = page.locator(f'.ag-header-cell[col-id="{col}"]').first
        box = header.bounding_box() if header.count() else None
        if not box:
            continue
        x, y = box["x"] + box["width"] - 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(box["x"] + width, y, steps=5)
        page.mouse.up()
        page.wait_for_timeout(200)


def expand_run(page, run_id: str) -> None:
    """Expand the child runs of ``run_id`` in the runs table."""
    row = page.locator(f'[row-id="{run_id}"] [col-id="attributes.`Run Name`"] button').first
    row.click()
    page.wait_for_timeout(1000)


def set_dataset_columns(page) -> None:
    """Show the source (the trace) and hide the empty expectations and the update time: the records view has
    no outputs column (the served answer is in each record's outputs, shown when a record is opened)."""
    for item in ("Source", "Expectations", "Last updated"):
        page.get_by_text("Columns (").first.click()
        entry = page.get_by_role("menuitemcheckbox", name=item, exact=True)
        if entry.count():
            entry.first.click()
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)


def filter_traces(page, feedback: str, value: str) -> None:
    """Keep the traces whose Feedback ``feedback`` equals ``value`` (the Filters pop-up)."""
    page.get_by_role("button", name="Filters").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("combobox", name="Filter field").click()
    page.get_by_role("option", name="Feedback", exact=True).click()
    dialog.get_by_role("combobox", name="Filter key").click()
    page.get_by_role("option", name=feedback, exact=True).click()
    dialog.get_by_label("Filter value").fill(value)
    dialog.get_by_role("button", name="Apply filters").click()
    page.wait_for_timeout(2000)


def set_trace_columns(page) -> None:
    """Hide duration, state, tokens, tags and the harm columns (groundedness and the review label stay)."""
    for item in ("Duration", "State", "Tokens", "Tags", "harm/toxicity", "harm/pii_leak"):
        page.get_by_role("button", name="Display").click()
        page.get_by_role("menuitem", name="Columns").hover()
        entry = page.get_by_role("menuitemcheckbox", name=item, exact=True)
        entry.first.wait_for(timeout=5000)
        entry.first.click()
        page.keyboard.press("Escape")
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)


def take(url: str, loop: dict, args: argparse.Namespace) -> None:
    """The four screenshots (see the module docstring)."""
    from playwright.sync_api import sync_playwright

    ms = args.timeout * 1000
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=args.chromium,
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        ctx = browser.new_context(viewport=VIEWPORT)
        try:
            page = open_page(ctx, f"{url}/#/experiments/{loop['app_experiment']}/traces", "review/label", ms)
            filter_traces(page, "review/label", "bad")
            set_trace_columns(page)
            check(page, "traces")
            shot(page, args.out / "mlflow_loop_traces.png", ".ag-row, tbody tr, [role=row]")

            page = open_page(
                ctx, f"{url}/#/experiments/{loop['experiment']}/datasets/{loop['dataset_id']}", "records", ms
            )
            set_dataset_columns(page)
            check(page, "dataset")
            shot(page, args.out / "mlflow_loop_dataset.png", "[role=row]")

            page = open_page(ctx, f"{url}/#/experiments/{loop['experiment']}/runs", "06_monitor", ms)
            page.locator(f'[row-id="{loop["notebook"]}"]').first.wait_for(timeout=ms)
            set_run_columns(page)
            resize_columns(page, COLUMN_WIDTHS)
            expand_run(page, loop["notebook"])
            page.locator(f'[row-id="{loop["challenge"]}"]').first.wait_for(timeout=ms)
            expand_run(page, loop["challenge"])
            check(page, "runs")
            shot(page, args.out / "mlflow_loop_runs.png", ".ag-row")

            page = open_page(ctx, f"{url}/#/models/{args.model}", f"Version {loop['version']}", ms)
            check(page, "model")
            shot(page, args.out / "mlflow_loop_model.png", "tbody tr, [role=row]")
        finally:
            browser.close()


def main(argv=None) -> int:
    """Find the loop in the store, serve the UI, take the screenshots, stop the UI."""
    args = parse_args(argv)
    if args.project:
        os.environ["WORKBENCH_PROJECT_DIR"] = str(args.project.resolve())
    if args.tracking_uri:
        os.environ["MLFLOW_TRACKING_URI"] = args.tracking_uri
    sys.path.insert(0, str(ROOT))
    loop = find_loop(args.model, args.alias)
    print("loop:", loop)
    proc, url = (None, args.url.rstrip("/")) if args.url else start_ui(args.timeout)
    try:
        take(url, loop, args)
    finally:
        if proc is not None:
            gp.stop_ui(proc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
