"""The MLflow UI (`workbench tracking ui`) in headless Chromium: the experiment page and the compare page of two
evaluation runs load without an error page and show the run names and metric names. Saves screenshots."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import workbench as wb
from workbench.procs import free_port, health

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed (make test installs it with apt-get when run as root)"
    ),
]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--virtual-time-budget=20000",
    "--window-size=1400,900",
]


def chromium(url: str, profile: Path, *extra: str) -> str:
    out = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, url], capture_output=True, text=True, timeout=120
    )
    return out.stdout


@pytest.fixture
def ui(tracking_store, tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "workbench"), "tracking", "ui", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while not health(f"http://127.0.0.1:{port}"):
            assert proc.poll() is None and time.monotonic() < deadline, "the MLflow UI did not start"
            time.sleep(0.3)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=30)


def test_experiment_and_compare_pages(local_server, tracking_store, ui, tmp_path):
    from evalkit import write_dataset
    from workbench.evaluate.cli import run_eval_cli

    ds = write_dataset(tmp_path / "qa.jsonl", 4)
    ids = []
    for name in ("demo-terse", "demo-plain"):
        lines = []
        run_eval_cli(
            str(ds),
            "local",
            system_prompt=f"{name}: answer briefly.",
            experiment="ui-demo",
            run_name=name,
            max_tokens=16,
            echo=lines.append,
        )
        ids.append(next(ln.split()[1].rstrip(":") for ln in lines if ln.strip().startswith("run ")))
    exp = wb.tracking.client().get_experiment_by_name("ui-demo").experiment_id
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    dom = chromium(f"{ui}/#/experiments/{exp}/runs", tmp_path / "p1", "--dump-dom")
    assert "demo-terse" in dom and "demo-plain" in dom, dom[:2000]
    assert "Something went wrong" not in dom and "404" not in dom.split("<body")[-1][:500]
    compare = f"{ui}/#/compare-runs?runs={json.dumps(ids)}&experiments={json.dumps([exp])}"
    dom = chromium(compare, tmp_path / "p2", "--dump-dom")
    assert "demo-terse" in dom and "cost/prompt_tokens/mean" in dom and "Metrics" in dom, dom[:2000]
    chromium(compare, tmp_path / "p3", f"--screenshot={shots / 'mlflow_compare.png'}")
    assert (shots / "mlflow_compare.png").stat().st_size > 10_000


def test_row_traces_with_assessments_and_candidate_runs_in_the_ui(local_server, tracking_store, ui, tmp_path):
    """The evidence of a 2-candidate evaluation, in the real MLflow UI: the Traces tab lists the rows with their
    assessment columns; ticking the two candidate runs compares their metrics side by side."""
    from mlflow import MlflowClient

    from evalkit import write_dataset
    from workbench.candidates import PromptCandidate

    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("ui-evidence")
    parent = c.create_run(exp, run_name="compare-prompts").info.run_id
    wb.evaluate(
        ds,
        [
            PromptCandidate("local", name="terse", system_prompt="Answer in three words.", max_tokens=8),
            PromptCandidate("local", name="plain", system_prompt=None, max_tokens=8),
        ],
        metrics=["quality/f1", "quality/exact_match", "latency"],
        run_id=parent,
        progress=False,
    )
    c.set_terminated(parent)
    children = c.search_runs([exp], f"tags.mlflow.parentRunId = '{parent}'")
    shots = Path(os.environ.get("WORKBENCH_SCREENSHOTS", tmp_path))
    traces = f"{ui}/#/experiments/{exp}/traces"
    dom = chromium(traces, tmp_path / "p4", "--dump-dom")
    assert "quality/f1" in dom and "terse" in dom and "Something went wrong" not in dom, dom[:3000]
    chromium(traces, tmp_path / "p5", f"--screenshot={shots / 'mlflow_traces.png'}")
    ids = [r.info.run_id for r in children]
    compare = f"{ui}/#/compare-runs?runs={json.dumps(ids)}&experiments={json.dumps([exp])}"
    dom = chromium(compare, tmp_path / "p6", "--dump-dom")
    assert "terse" in dom and "plain" in dom and "quality/f1/mean" in dom, dom[:3000]
    chromium(compare, tmp_path / "p7", f"--screenshot={shots / 'mlflow_compare_candidates.png'}")
    assert (shots / "mlflow_traces.png").stat().st_size > 10_000
