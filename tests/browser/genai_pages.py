"""MLflow's GenAI pages, driven by Playwright: the five checks of issue 29 on any experiment of a running
``workbench tracking ui``, shared by ``tests/browser/test_mlflow_genai_ui.py`` (a tiny fresh project) and
``tools/check_genai_ui.py`` (a project made by ``workbench demo``).

Each ``check_*`` opens its page in a Playwright browser context, saves one screenshot under ``shots`` and raises
``AssertionError`` with the page text when the claim does not hold; it returns a one-line piece of evidence."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

VIEWPORT = {"width": 1400, "height": 900}
PAGE_MS = 90_000
ANSWER_MS = 120_000
PLAYGROUND_QUESTION = "What is a sleeping bag? Answer in one sentence."


def start_ui(
    args: list[str], log: Path, ready: Callable[[str], bool], timeout: float, env=None, cwd=None
) -> subprocess.Popen:
    """``workbench ARGS`` (``tracking ui --port N``, ``ui --port N``) in a process group of its own, its output in
    ``log``; returned once ``ready(output so far)`` holds. RuntimeError with the output's tail when it exits or
    ``timeout`` seconds pass first (the group is stopped)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [str(Path(sys.executable).parent / "workbench"), *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout
    while not ready(log.read_text()):
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_ui(proc)
            raise RuntimeError(
                f"`workbench {' '.join(args)}` was not ready in {timeout:.0f}s:\n{log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    return proc


def stop_ui(proc: subprocess.Popen) -> None:
    """SIGTERM to the UI's process group (its workers and the MLflow server stop with it), then wait for it
    (SIGKILL after 30 s)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def gateway_ready(output: str) -> bool:
    """``workbench tracking ui`` has set up its AI Gateway (it prints the local endpoint's line)."""
    return "AI Gateway endpoint local" in output


def open_page(ctx, url: str, ready_text: str, timeout_ms: float = PAGE_MS):
    """A page at ``url`` once ``ready_text`` shows, with the Assistant's panel and tour pop-ups closed."""
    page = ctx.new_page()
    page.set_default_timeout(timeout_ms)
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
    """Save the viewport as a PNG, with no hover highlight or focus outline."""
    page.mouse.move(1, VIEWPORT["height"] - 1)
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    page.wait_for_timeout(800)
    page.screenshot(path=str(path))


def gateway_lines(log_text: str) -> list[str]:
    """The ``AI Gateway endpoint ...`` lines ``workbench tracking ui`` printed."""
    return [x for x in log_text.splitlines() if x.startswith("AI Gateway endpoint")]


def check_playground(ctx, url: str, experiment_id: str, shots: Path, log_text: str) -> str:
    """(a) The Playground answers from the local model (endpoint ``local`` → smollm2, by the page and by API)."""
    import httpx

    lines = gateway_lines(log_text)
    assert any(x.startswith("AI Gateway endpoint local: smollm2 at http://127.0.0.1:") for x in lines), (
        f"no local gateway endpoint in the UI's output: {lines}"
    )
    page = open_page(ctx, f"{url}/#/experiments/{experiment_id}/playground", "Select an endpoint")
    page.get_by_text("Select an endpoint").first.click()
    page.get_by_text("openai / smollm2").first.click()
    page.get_by_placeholder("Type a message").first.fill(PLAYGROUND_QUESTION)
    page.get_by_role("button", name="Submit").click()
    page.get_by_text("Tokens — input:").first.wait_for(timeout=ANSWER_MS)
    body = page.inner_text("body")
    shot(page, shots / "mlflow_playground.png")
    assert "failed" not in body.lower(), body[-2000:]
    answer = body.split("Assistant", 1)[1].split("Tokens — input:", 1)[0].strip() if "Assistant" in body else ""
    assert answer, f"no answer on the page: {body[-2000:]}"
    # the same endpoint by API: the model that answered is the embedded one
    r = httpx.post(
        f"{url}/gateway/mlflow/v1/chat/completions",
        json={"model": "local", "messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8},
        timeout=120,
    )
    assert r.status_code == 200 and r.json()["model"] == "smollm2", f"gateway API: {r.status_code} {r.text[:500]}"
    return f"answer {answer[:120]!r}; gateway API model {r.json()['model']}"


def check_review(
    ctx, url: str, experiment_id: str, queue: dict, shots: Path, reviewed: int = 1, items: int | None = None
) -> str:
    """(b) The review widget's label shows in the Review page: ``queue`` = {name, id, question, label}; the
    queue shows ``reviewed`` completed items of ``items``, and the labelled item's form has the label filled in."""
    page = open_page(
        ctx, f"{url}/#/experiments/{experiment_id}/review-queue?selectedQueueId={queue['id']}", queue["name"]
    )
    page.get_by_text(f"Completed ({reviewed})").first.wait_for()
    page.get_by_text(queue["question"]).first.click()
    page.get_by_text("Exit review").first.wait_for()
    page.get_by_text("review/label").first.wait_for()
    page.get_by_text(queue["label"], exact=True).first.wait_for()  # the viewer's answer, from the widget's label
    body = page.inner_text("body")
    shot(page, shots / "mlflow_review.png")
    if items is not None:
        assert f"{reviewed} of {items} reviewed" in body, f"no '{reviewed} of {items} reviewed': {body[-2000:]}"
    assert page.get_by_text("Reviewed", exact=True).count(), f"the item is not marked Reviewed: {body[-2000:]}"
    return (
        f"queue {queue['name']!r}: Completed ({reviewed}), item {queue['question'][:60]!r} labelled {queue['label']!r}"
    )


def check_judges(
    ctx, url: str, experiment_id: str, shots: Path, expect: tuple[str, ...] = ("quality/", "harm/")
) -> str:
    """(c) The Judges page lists the workbench's metrics (names starting with each of ``expect``)."""
    page = open_page(ctx, f"{url}/#/experiments/{experiment_id}/judges", "Judges")
    page.wait_for_timeout(3000)
    shot(page, shots / "mlflow_judges.png")
    body = page.inner_text("body")
    missing = [p for p in expect if p not in body]
    assert not missing, f"no judge named {missing}* on the page: {body[-2000:]}"
    names = sorted({w for w in body.split() if w.startswith(expect)})
    return f"{len(names)} workbench judges listed, e.g. {names[:6]}"


def check_datasets(ctx, url: str, experiment_id: str, dataset: str, shots: Path) -> str:
    """(d) The Datasets page lists the evaluation set ``dataset``."""
    page = open_page(ctx, f"{url}/#/experiments/{experiment_id}/datasets", "Datasets")
    page.wait_for_timeout(3000)
    shot(page, shots / "mlflow_datasets.png")
    body = page.inner_text("body")
    assert dataset in body, f"{dataset!r} not on the page: {body[-2000:]}"
    return f"{dataset!r} listed"


def check_row_trace(ctx, url: str, experiment_id: str, trace_id: str, shots: Path) -> str:
    """(e) A QA row's trace shows no error assessment in its drawer, and every non-human Feedback on it has no
    error and a rationale (read through the UI server's API)."""
    import mlflow

    trace = mlflow.MlflowClient(url).get_trace(trace_id)
    question = trace.info.request_preview or ""
    page = open_page(ctx, f"{url}/#/experiments/{experiment_id}/traces", "Traces")  # pop-ups closed
    # then the trace's drawer, by MLflow's own link to a trace (a click on the question may open another
    # candidate's trace of the same question)
    page.goto(f"{url}/#/experiments/{experiment_id}/traces?selectedEvaluationId={trace_id}")
    page.get_by_text("Inputs / Outputs").first.wait_for()
    page.get_by_role("button", name="Assess").first.click()  # its assessments pane
    page.get_by_text("Assessments").first.wait_for()
    page.wait_for_timeout(1500)
    shot(page, shots / "mlflow_row_trace.png")
    body = page.inner_text("body")
    assert question[:40] in body, f"the drawer of {trace_id} does not show its request {question[:40]!r}"
    assert "no_value" not in body and "Error:" not in body, f"an error assessment on the page: {body[-3000:]}"
    feedback = [a for a in trace.info.assessments if a.feedback is not None and a.source.source_type != "HUMAN"]
    assert feedback, f"trace {trace_id} has no metric feedback"
    errors = [a.name for a in feedback if a.feedback.error is not None]
    assert not errors, f"trace {trace_id}: feedback with an error: {errors}"
    bare = [a.name for a in feedback if not a.rationale]
    assert not bare, f"trace {trace_id}: metrics without a rationale: {bare}"
    return (
        f"trace {trace_id} ({question[:50]!r}): {len(feedback)} metric feedbacks, none an error, all with a rationale"
    )
