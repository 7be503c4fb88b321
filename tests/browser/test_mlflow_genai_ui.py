"""MLflow's own GenAI pages on the workbench's data, in the real MLflow UI (``workbench tracking ui``) driven by
headless Chromium, offline and with no key: a fresh project with one small evaluation (3 Contoso QA rows through
``wb.evaluate`` on the embedded model, labelled through the review widget's API), then

(a) the Playground answers from the local model through MLflow's AI Gateway;
(b) the review widget's label shows in the Review page (the queue's item reviewed, the viewer's answer filled in);
(c) the Judges page lists the workbench's metrics;
(d) the Datasets page lists the evaluation set;
(e) a QA row's trace has no error assessment and a rationale for every metric.

One screenshot per page (``WORKBENCH_SCREENSHOTS``, else the test's tmp dir): ``mlflow_playground.png``,
``mlflow_review.png``, ``mlflow_judges.png``, ``mlflow_datasets.png``, ``mlflow_row_trace.png``."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from genai_pages import (
    VIEWPORT,
    check_datasets,
    check_judges,
    check_playground,
    check_review,
    check_row_trace,
    gateway_ready,
    start_ui,
    stop_ui,
)

ROOT = Path(__file__).resolve().parents[2]
SKIP = (
    None
    if (shutil.which("chromium") or shutil.which("chromium-browser")) and importlib.util.find_spec("playwright")
    else "needs the Debian chromium (make browser installs it when root) and pip playwright ([dev])"
)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]
DATASET = "contoso-qa-ui"
QUEUE = "review ui-eval"

# the evaluation and the widget's label, in a process of its own (the project's store, MLflow's globals untouched)
EVAL = f"""
import json, sys
import workbench as wb
from workbench.candidates import PromptCandidate
from workbench.widgets.review import Review
qa = wb.load_dataset(sys.argv[1])
tiny = wb.load_dataset(qa.df.head(3), name="{DATASET}")
import mlflow
from workbench.tracking import configure
configure()
mlflow.set_experiment("ui-test")
with mlflow.start_run(run_name="ui-eval") as run:
    res = wb.evaluate(tiny, [PromptCandidate("local", name="plain", max_tokens=24)], progress=False)
review = Review(res, labels_path=sys.argv[2], queue="{QUEUE}")
review.note.value = "names no weight"
first = review.current()
review.label("bad")
print(json.dumps({{"experiment": run.info.experiment_id, "run": run.info.run_id,
                   "traces": res.rows["trace_id"].tolist(), "labelled": first["trace_id_b"],
                   "question": first["input_a"], "queue": review.queue.queue_id}}))
"""


def _env(project: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "WORKBENCH_RUN_ID", "MLFLOW_RUN_ID", "MLFLOW_EXPERIMENT_ID")
    }
    env.update(WORKBENCH_PROJECT_DIR=str(project), PYTHONPATH=str(ROOT))
    return env


@pytest.fixture(scope="module")
def ui(local_server, tmp_path_factory):
    """A fresh project with the evaluation, and ``workbench tracking ui`` on it once its AI Gateway is set up;
    yields (URL, the evaluation's ids, the UI's output so far)."""
    from workbench.procs import free_port

    project = tmp_path_factory.mktemp("genai-ui")
    out = subprocess.run(
        [sys.executable, "-c", EVAL, str(ROOT / "datasets/contoso/qa.jsonl"), str(project / "labels.jsonl")],
        capture_output=True,
        text=True,
        timeout=300,
        env=_env(project),
        cwd=project,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    ids = json.loads(out.stdout.strip().splitlines()[-1])
    port = free_port()
    log = project / "ui.log"
    args = ["tracking", "ui", "--port", str(port)]
    proc = start_ui(args, log, gateway_ready, 120, _env(project), project)
    try:
        yield type("UI", (), {"url": f"http://127.0.0.1:{port}", "ids": ids, "log": log})
    finally:
        stop_ui(proc)


@pytest.fixture(scope="module")
def ctx(browser):
    c = browser.new_context(viewport=VIEWPORT)
    yield c
    c.close()


def test_playground_answers_from_the_local_model(ui, ctx, shots):
    check_playground(ctx, ui.url, ui.ids["experiment"], shots, ui.log.read_text())


def test_a_widget_label_shows_in_the_review_page(ui, ctx, shots):
    ids = ui.ids
    queue = {"name": QUEUE, "id": ids["queue"], "question": ids["question"], "label": "bad"}
    check_review(ctx, ui.url, ids["experiment"], queue, shots, reviewed=1, items=len(ids["traces"]))


def test_judges_page_lists_the_workbench_metrics(ui, ctx, shots):
    check_judges(ctx, ui.url, ui.ids["experiment"], shots)


def test_datasets_page_lists_the_evaluation_set(ui, ctx, shots):
    check_datasets(ctx, ui.url, ui.ids["experiment"], DATASET, shots)


def test_a_qa_rows_trace_has_no_error_and_a_rationale_per_metric(ui, ctx, shots):
    check_row_trace(ctx, ui.url, ui.ids["experiment"], ui.ids["traces"][1], shots)  # not the labelled one
