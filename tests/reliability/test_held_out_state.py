"""Held-out probes of state after kills and re-runs (issue 33): row traces after ``kill -9``, the same evaluation
into a second experiment, a killed sweep launcher, re-registered datasets, LoggedModels left PENDING. Real
processes killed with SIGKILL, a real MLflow sqlite store, a fake OpenAI-compatible upstream on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import workbench as wb
from evalkit import write_dataset


@pytest.fixture
def fake(fake_endpoint):
    return fake_endpoint("1.6 kg", delay_s=0.15, max_concurrency=4)


def _cand():
    return wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20)


def _traced_rows(run_id: str, experiment_id: str) -> set[str]:
    import mlflow

    traces = mlflow.search_traces(
        locations=[experiment_id], run_id=run_id, return_type="list", include_spans=False, max_results=10000
    )
    return {t.info.trace_id for t in traces}


def _wait_lines(path: Path, n: int, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if path.exists() and sum(1 for _ in open(path)) >= n:
            return
        time.sleep(0.05)
    raise AssertionError(f"{path} never reached {n} rows")


def test_rows_checkpointed_before_a_kill_are_traced_on_resume(fake, tracking_store, tmp_path, project_dir):
    """Regression: rows checkpointed but still queued for asynchronous trace export when the process was killed
    (-9) were skipped on resume: 5-6 of 40 rows had no trace, and the finished run linked only the rows it
    computed itself. Now the resuming run traces what the checkpoint holds and the store lacks, and links the
    rest: the finished run has one trace per row."""
    ds = write_dataset(tmp_path / "qa.jsonl", 40)
    ck = tmp_path / "ck.jsonl"
    script = textwrap.dedent(f"""
        import workbench as wb
        wb.evaluate({str(ds)!r}, wb.PromptCandidate("fake:m", name="c", system_prompt=None, max_tokens=20),
                    metrics=["quality/f1"], concurrency=4, cache="off", progress=False, checkpoint={str(ck)!r})
        """)
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(project_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        _wait_lines(ck, 14)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    r = wb.evaluate(ds, _cand(), metrics=["quality/f1"], concurrency=4, cache="off", progress=False, checkpoint=ck)
    assert r.complete and r.computed_rows < 40
    import mlflow

    exp = mlflow.get_run(r.run_id).info.experiment_id
    linked = _traced_rows(r.run_id, exp)
    assert len(linked) == 40, f"the finished run links {len(linked)} of 40 row traces"


def test_the_same_evaluation_into_a_second_experiment_records_its_evidence_there(
    fake, tracking_store, tmp_path, project_dir
):
    """Regression: evaluating the same set into a second experiment finished with "0 computed now" and a run
    with no traces (the evidence stayed in the first experiment)."""
    from workbench import tracking

    ds = write_dataset(tmp_path / "qa.jsonl", 8)
    c = tracking.client()
    runs = []
    for name in ("first", "second"):
        exp = c.create_experiment(name)
        runs.append((exp, c.create_run(exp).info.run_id))
    for _exp, run in runs:
        r = wb.evaluate(ds, _cand(), metrics=["quality/f1"], cache="off", progress=False, run_id=run)
        assert r.complete
    assert r.computed_rows == 0  # the checkpoint is reused: nothing is paid for twice
    exp2, run2 = runs[1]
    assert len(_traced_rows(run2, exp2)) == 8


BIN = Path(sys.executable).parent / "workbench"
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if open(f"/proc/{entry}/stat").read().rsplit(")", 1)[-1].split()[1] == str(pid):
                    out.append(int(entry))
            except (OSError, IndexError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_killing_only_the_sweep_launcher_leaves_no_workers_and_no_duplicate_cells(tracking_store):
    """Regression: killing only the sweep launcher (as an out-of-memory kill does) left its pool workers running
    cells; `--resume` ran them again: 3 of 4 cells ended with two FINISHED children, 3 orphaned workers never
    exited. Now workers die with their launcher, and the resumed sweep has one FINISHED child per cell."""
    from mlflow import MlflowClient

    args = [
        "sweep",
        str(NOTEBOOKS / "params.ipynb"),
        "--grid",
        "n=1,2,3,4",
        "--grid",
        "alpha=0.5",
        "-p",
        "sleep_s",
        "6",
        "--workers",
        "2",
        "--experiment",
        "t-orphans",
    ]
    c = MlflowClient(tracking_store)
    proc = subprocess.Popen(
        [str(BIN), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            exp = c.get_experiment_by_name("t-orphans")
            runs = c.search_runs([exp.experiment_id]) if exp else []
            if sum(r.info.status == "RUNNING" and "mlflow.parentRunId" in r.data.tags for r in runs) >= 2:
                break
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the cells never started"
            time.sleep(0.2)
        workers = [
            p
            for p in _children(proc.pid)
            if "multiprocessing" in open(f"/proc/{p}/cmdline").read()
            and "resource_tracker" not in open(f"/proc/{p}/cmdline").read()
        ]
        assert workers
        os.kill(proc.pid, signal.SIGKILL)  # the launcher only, not its process group
        proc.wait()
        end = time.monotonic() + 20
        while any(_alive(p) for p in workers) and time.monotonic() < end:
            time.sleep(0.2)
        orphans = [p for p in workers if _alive(p)]
        assert not orphans, f"{len(orphans)} orphaned worker(s) still running 20 s after the launcher died"
        again = subprocess.run([str(BIN), *args, "--resume"], capture_output=True, text=True, timeout=400)
        assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
        time.sleep(8)  # an orphan that survived would finish its cell meanwhile
        runs = c.search_runs([c.get_experiment_by_name("t-orphans").experiment_id])
        done = [
            r.data.params.get("n") for r in runs if "mlflow.parentRunId" in r.data.tags and r.info.status == "FINISHED"
        ]
        assert sorted(done) == ["1", "2", "3", "4"], f"FINISHED children per cell: {sorted(done)}"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # whatever survived (the old code's orphans)
        except ProcessLookupError:
            pass


def _write(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"id": i, "question": q, "reference": a}) + "\n" for i, q, a in rows))
    return path


def test_re_registering_an_edited_dataset_makes_the_records_equal_to_the_file(tracking_store, tmp_path):
    """Regression: `register_dataset` after an edit kept the removed rows and left the old digest tag; another
    file with the same stem was merged into the same dataset."""
    from workbench import tags as T, tracking
    from workbench.data import load_dataset
    from workbench.evaluate.record import register_dataset

    exp = tracking.client().create_experiment("t-datasets")
    path = _write(tmp_path / "qa.jsonl", [("a", "What is A?", "1"), ("b", "What is B?", "2"), ("c", "What is C?", "3")])
    register_dataset(path, experiment_id=exp)
    _write(path, [("a", "What is A?", "1"), ("c", "What is C?", "three")])  # b removed, c's reference edited
    d = register_dataset(path, experiment_id=exp)
    df = d.to_df()
    assert sorted(i["question"] for i in df["inputs"]) == ["What is A?", "What is C?"]
    assert sorted(e["expected_response"] for e in df["expectations"]) == ["1", "three"]
    from mlflow.genai.datasets import get_dataset

    assert get_dataset(dataset_id=d.dataset_id).tags[T.DATASET_DIGEST] == load_dataset(path).digest
    other = _write(tmp_path / "elsewhere" / "qa.jsonl", [("z", "What is Z?", "26")])
    with pytest.raises(wb.WorkbenchError, match="pass name="):
        register_dataset(other, experiment_id=exp)
    assert len(get_dataset(dataset_id=d.dataset_id).to_df()) == 2
    assert len(register_dataset(other, experiment_id=exp, name="qa-elsewhere").to_df()) == 1


def test_a_logged_model_killed_while_being_finalized_does_not_stay_pending(tracking_store, tmp_path, project_dir):
    """Regression: a LoggedModel whose creator was killed (-9) while finalizing it stayed PENDING for good. Now the
    next start (stale-run recovery) ends it, and reusing its configuration finalizes it READY."""
    from mlflow import MlflowClient

    from workbench import recovery

    ready = tmp_path / "pending"
    script = textwrap.dedent(f"""
        import pathlib, time
        from mlflow import MlflowClient
        import workbench as wb
        from workbench.lifecycle import tracked_run
        from workbench.evaluate import record

        def stuck(self, model_id, status):  # killed here: created, not yet finalized
            pathlib.Path({str(ready)!r}).write_text(model_id)
            time.sleep(300)

        MlflowClient.finalize_logged_model = stuck
        with tracked_run("eval", "killed-while-finalizing") as run:
            exp = MlflowClient().get_run(run.run_id).info.experiment_id
            record.logged_model(wb.PromptCandidate("fake:m", name="c", system_prompt=None), exp,
                                source_run_id=run.run_id)
        """)
    env = {**os.environ, "WORKBENCH_PROJECT_DIR": str(project_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    p = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        end = time.monotonic() + 120
        while not ready.exists():
            assert p.poll() is None and time.monotonic() < end, "never reached finalize_logged_model"
            time.sleep(0.1)
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait(30)
    c = MlflowClient(tracking_store)
    model_id = ready.read_text()
    assert str(c.get_logged_model(model_id).status) == "PENDING"
    recovery.mark_stale_runs(c)  # what the next launch does first
    assert str(c.get_logged_model(model_id).status) == "READY"


def test_reusing_a_pending_configuration_finalizes_it(tracking_store):
    """A PENDING LoggedModel of the same configuration (its creator died) is finalized READY when reused."""
    from workbench import tags as T, tracking
    from workbench.evaluate import record

    c = tracking.client()
    exp = c.create_experiment("t-pending")
    cand = wb.PromptCandidate("fake:m", name="c", system_prompt=None)
    m = c.create_logged_model(
        exp,
        name=record.configuration_name(cand),
        tags={T.CONFIG_HASH: record.config_hash(cand.config)},
        model_type=record.MODEL_TYPE,
    )
    assert str(m.status) == "PENDING"
    assert record.logged_model(cand, exp) == m.model_id
    assert str(c.get_logged_model(m.model_id).status) == "READY"
