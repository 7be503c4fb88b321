"""Scenario 2 — kill -9 during a `workbench run` (an evaluation inside a tracked notebook) and during a
`workbench sweep`: the next start marks the dead launcher's runs KILLED (with the reason), re-running resumes,
the final rows equal an uninterrupted run's, nothing is duplicated and no run is left RUNNING.
(Kill -9 of a bare `wb.evaluate` and its resume: tests/evaluate/test_evaluate.py::test_kill_and_resume_gives_the_uninterrupted_rows.)"""

import os
import platform
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

import workbench as wb
from evalkit import write_dataset
from workbench import recovery
from workbench.candidates import PromptCandidate
from workbench.evaluate.engine import read_checkpoint

BIN = Path(sys.executable).parent / "workbench"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def launch(*args) -> subprocess.Popen:
    """A workbench command in its own process group (so kill -9 takes its kernels and workers with it)."""
    return subprocess.Popen(
        [str(BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )


def kill9_when(proc: subprocess.Popen, ready, timeout=240) -> float:
    deadline = time.monotonic() + timeout
    while not ready():
        assert proc.poll() is None, f"ended before it could be killed:\n{proc.stdout.read()[-3000:]}"
        assert time.monotonic() < deadline, "never got far enough to be killed"
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return time.monotonic()


def runs_of(c, experiment):
    exp = c.get_experiment_by_name(experiment)
    return c.search_runs([exp.experiment_id]) if exp else []


def test_only_dead_launchers_on_this_host_are_marked(tracking_store):
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-stale")
    dead = subprocess.Popen(["true"])
    dead.wait()
    host = platform.node()
    me = recovery.process_start(os.getpid())
    cases = {
        "dead": {recovery.PID_TAG: str(dead.pid), recovery.HOST_TAG: host},
        "alive": {recovery.PID_TAG: str(os.getpid()), recovery.HOST_TAG: host, recovery.START_TAG: me},
        "reused_pid": {recovery.PID_TAG: str(os.getpid()), recovery.HOST_TAG: host, recovery.START_TAG: "1"},
        "other_host": {recovery.PID_TAG: str(dead.pid), recovery.HOST_TAG: host + "-elsewhere"},
        "untagged": {},
    }
    ids = {name: c.create_run(exp, run_name=name, tags=tags).info.run_id for name, tags in cases.items()}
    child = c.create_run(exp, run_name="queued-child", tags={"mlflow.parentRunId": ids["dead"]}).info.run_id
    c.update_run(child, status="SCHEDULED")
    marked = recovery.mark_stale_runs(c)
    assert sorted(marked) == sorted([ids["dead"], ids["reused_pid"], child])
    status = {name: c.get_run(rid).info.status for name, rid in ids.items()}
    assert status == {
        "dead": "KILLED",
        "alive": "RUNNING",
        "reused_pid": "KILLED",
        "other_host": "RUNNING",
        "untagged": "RUNNING",
    }
    assert f"launcher pid {dead.pid}" in c.get_run(ids["dead"]).data.tags[recovery.REASON_TAG]
    assert "parent run" in c.get_run(child).data.tags[recovery.REASON_TAG]
    assert recovery.mark_stale_runs(c) == []  # idempotent


@pytest.mark.slow
def test_kill9_during_workbench_run_then_rerun(solo_model, tracking_store, tmp_path):
    """On the one-slot server (``solo_model``): the resumed rows are compared bit for bit with an uninterrupted
    run, and llama.cpp's greedy output depends on what shares its batch."""
    ds = write_dataset(tmp_path / "qa.jsonl", 16)
    ckpt = tmp_path / "ckpt.jsonl"
    args = [
        "run",
        str(NOTEBOOKS / "evaluate.ipynb"),
        "-p",
        "dataset",
        str(ds),
        "-p",
        "checkpoint",
        str(ckpt),
        "-p",
        "model",
        solo_model,
        "--experiment",
        "t-kill-run",
        "-q",
    ]
    proc = launch(*args)
    kill9_when(proc, lambda: ckpt.exists() and len(ckpt.read_text().splitlines()) >= 4)
    partial = len(read_checkpoint(ckpt))
    c = MlflowClient(tracking_store)
    (killed,) = runs_of(c, "t-kill-run")
    assert killed.info.status == "RUNNING"  # nobody could end it
    again = launch(*args)
    out, _ = again.communicate(timeout=400)
    assert again.returncode == 0, out[-3000:]
    runs = {r.info.run_id: r for r in runs_of(c, "t-kill-run")}
    assert len(runs) == 2 and runs[killed.info.run_id].info.status == "KILLED"
    assert "ended without ending the run" in runs[killed.info.run_id].data.tags[recovery.REASON_TAG]
    (new,) = [r for rid, r in runs.items() if rid != killed.info.run_id]
    assert new.info.status == "FINISHED" and new.data.metrics["rows"] == 16
    assert new.data.metrics["computed"] <= 16 - partial + 2  # resumed: only the missing rows (+ in-flight ones)
    lines = ckpt.read_text().splitlines()
    final = read_checkpoint(ckpt)
    assert len(final) == 16
    fresh = wb.evaluate(
        ds,
        [PromptCandidate(solo_model, name="c", max_tokens=60)],
        concurrency=2,
        metrics=["quality/f1", "latency/latency_s"],
        checkpoint=tmp_path / "fresh.jsonl",
        log=False,
        progress=False,
    )
    resumed = sorted((r["id"], r["answer"], r["quality/f1"]) for r in final.values())
    assert resumed == sorted(zip(fresh.rows["id"], fresh.rows["answer"], fresh.rows["quality/f1"], strict=True))
    print(
        f"\nRELIABILITY scenario2 (workbench run): killed after {partial}/16 rows; next start marked the run "
        f"KILLED; re-run computed {int(new.data.metrics['computed'])} rows, final 16/16 unique "
        f"({len(lines)} checkpoint lines), equal to an uninterrupted run"
    )


@pytest.mark.slow
def test_kill9_during_sweep_then_resume(tracking_store):
    nb = NOTEBOOKS / "params.ipynb"
    args = [
        "sweep",
        str(nb),
        "--grid",
        "n=1,2,3,4",
        "--grid",
        "alpha=0.5",
        "-p",
        "sleep_s",
        "2",
        "--workers",
        "2",
        "--experiment",
        "t-kill-sweep",
    ]
    c = MlflowClient(tracking_store)
    proc = launch(*args)
    kill9_when(proc, lambda: sum(r.info.status == "FINISHED" for r in runs_of(c, "t-kill-sweep")) >= 2)
    before = runs_of(c, "t-kill-sweep")
    finished_before = {r.data.params.get("n") for r in before if r.info.status == "FINISHED"}
    left_open = [r.info.run_id for r in before if r.info.status in ("RUNNING", "SCHEDULED")]
    assert left_open  # the parent at least
    again = launch(*args, "--resume")
    out, _ = again.communicate(timeout=400)
    assert again.returncode == 0, out[-3000:]
    runs = runs_of(c, "t-kill-sweep")
    parent = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert len(parent) == 1 and parent[0].info.status == "FINISHED"
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent[0].info.run_id]
    done = [r for r in children if r.info.status == "FINISHED"]
    assert sorted(r.data.params["n"] for r in done) == ["1", "2", "3", "4"]  # one FINISHED child per cell
    assert all(r.data.metrics["score"] == pytest.approx(0.5 * int(r.data.params["n"])) for r in done)
    assert not [r for r in runs if r.info.status in ("RUNNING", "SCHEDULED")]
    killed = [r for r in runs if r.info.status == "KILLED"]
    assert {r.info.run_id for r in killed} == set(left_open) - {parent[0].info.run_id}
    assert all(recovery.REASON_TAG in r.data.tags for r in killed)
    assert f"{len(finished_before)} already finished" in out
    print(
        f"\nRELIABILITY scenario2 (sweep): killed with {len(finished_before)}/4 cells finished and "
        f"{len(left_open)} runs open; resume marked {len(killed)} child run(s) KILLED (+ the parent, revived), "
        f"ran {4 - len(finished_before)} cells, final 4/4 cells with exactly one FINISHED child, 0 left RUNNING"
    )
