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
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = (
    None
    if (shutil.which("chromium") or shutil.which("chromium-browser")) and importlib.util.find_spec("playwright")
    else "needs the Debian chromium (make browser installs it when root) and pip playwright ([dev])"
)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(SKIP is not None, reason=SKIP or "")]
VIEWPORT = {"width": 1400, "height": 900}
PAGE_MS = 90_000
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
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "workbench"), "tracking", "ui", "--port", str(port)],
        stdout=open(log, "w"),
        stderr=subprocess.STDOUT,
        env=_env(project),
        cwd=project,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while "AI Gateway endpoint local" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield type("UI", (), {"url": f"http://127.0.0.1:{port}", "ids": ids, "log": log})
    finally:
        import signal

        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def ctx(browser):
    c = browser.new_context(viewport=VIEWPORT)
    yield c
    c.close()


def open_page(ctx, url: str, ready_text: str):
    """A page at ``url`` once ``ready_text`` shows, with the Assistant's panel and tour pop-ups closed."""
    page = ctx.new_page()
    page.set_default_timeout(PAGE_MS)
    page.goto(url, wait_until="load")
    page.get_by_text(ready_text, exact=False).first.wait_for()
    page.wait_for_timeout(800)
    for popup in (
        page.get_by_role("button", name="Got it"),
        page.locator('[data-component-id="mlflow.assistant.chat_panel.close"]'),
    ):
        if popup.count():
            popup.first.click()
            page.wait_for_timeout(300)
    return page


def shot(page, path: Path) -> None:
    page.mouse.move(1, VIEWPORT["height"] - 1)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))


def test_playground_answers_from_the_local_model(ui, ctx, shots):
    import httpx

    lines = [x for x in ui.log.read_text().splitlines() if x.startswith("AI Gateway endpoint")]
    assert any(x.startswith("AI Gateway endpoint local: smollm2 at http://127.0.0.1:") for x in lines), lines
    exp = ui.ids["experiment"]
    page = open_page(ctx, f"{ui.url}/#/experiments/{exp}/playground", "Select an endpoint")
    page.get_by_text("Select an endpoint").first.click()
    page.get_by_text("openai / smollm2").first.click()
    page.get_by_placeholder("Type a message").first.fill("What is a sleeping bag? Answer in one sentence.")
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Tokens — input:").first.wait_for(timeout=120_000)
    body = page.inner_text("body")
    assert "failed" not in body.lower(), body[-2000:]
    answer = body.split("Assistant", 1)[1].split("Tokens — input:", 1)[0].strip()
    assert answer, body[-2000:]
    shot(page, shots / "mlflow_playground.png")
    # the same endpoint by API: the model that answered is the embedded one
    r = httpx.post(
        f"{ui.url}/gateway/mlflow/v1/chat/completions",
        json={"model": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
        timeout=120,
    )
    assert r.status_code == 200 and r.json()["model"] == "smollm2", r.text


def test_a_widget_label_shows_in_the_review_page(ui, ctx, shots):
    ids, exp = ui.ids, ui.ids["experiment"]
    page = open_page(ctx, f"{ui.url}/#/experiments/{exp}/review-queue?selectedQueueId={ids['queue']}", QUEUE)
    page.get_by_text("Completed (1)").first.wait_for()
    page.get_by_text(ids["question"]).first.click()
    page.get_by_text("Exit review").first.wait_for()
    page.get_by_text("review/label").first.wait_for()
    page.get_by_text("bad", exact=True).first.wait_for()  # the viewer's answer, filled in from the widget's label
    body = page.inner_text("body")
    assert "1 of 3 reviewed" in body, body[-2000:]
    assert page.get_by_text("Reviewed", exact=True).count(), body[-2000:]
    shot(page, shots / "mlflow_review.png")


def test_judges_page_lists_the_workbench_metrics(ui, ctx, shots):
    exp = ui.ids["experiment"]
    page = open_page(ctx, f"{ui.url}/#/experiments/{exp}/judges", "Judges")
    page.wait_for_timeout(3000)
    shot(page, shots / "mlflow_judges.png")
    body = page.inner_text("body")
    assert "quality/" in body and "harm/" in body, body[-2000:]


def test_datasets_page_lists_the_evaluation_set(ui, ctx, shots):
    exp = ui.ids["experiment"]
    page = open_page(ctx, f"{ui.url}/#/experiments/{exp}/datasets", "Datasets")
    page.wait_for_timeout(3000)
    shot(page, shots / "mlflow_datasets.png")
    assert DATASET in page.inner_text("body"), page.inner_text("body")[-2000:]


def test_a_qa_rows_trace_has_no_error_and_a_rationale_per_metric(ui, ctx, shots):
    import mlflow

    ids, exp = ui.ids, ui.ids["experiment"]
    trace_id = ids["traces"][1]  # not the labelled one
    trace = mlflow.MlflowClient(ui.url).get_trace(trace_id)
    question = trace.info.request_preview
    page = open_page(ctx, f"{ui.url}/#/experiments/{exp}/traces", question[:40])
    page.get_by_text(question[:40]).first.click()  # the trace's drawer
    page.get_by_text("Inputs / Outputs").first.wait_for()
    page.get_by_role("button", name="Assess").first.click()  # its assessments pane
    page.get_by_text("Assessments").first.wait_for()
    page.wait_for_timeout(1500)
    shot(page, shots / "mlflow_row_trace.png")
    body = page.inner_text("body")
    assert "no_value" not in body and "Error:" not in body, body[-3000:]
    feedback = [a for a in trace.info.assessments if a.feedback is not None and a.source.source_type != "HUMAN"]
    assert feedback and not [a.name for a in feedback if a.feedback.error is not None]
    assert not [a.name for a in feedback if not a.rationale], "metrics without a rationale"
