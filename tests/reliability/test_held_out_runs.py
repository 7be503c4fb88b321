"""Held-out probes of run lifecycles (issue 21): parameter values that cannot be stored are refused up front,
a params file with an emoji works, untyped parameters are not YAML 1.1, a full disk ends with a short "disk full"
error and no run left RUNNING, a fresh sqlite store used by several processes at once is created once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow import MlflowClient

from workbench.errors import WorkbenchError
from workbench.runs.notebook import coerce, resolve_parameters

WORKBENCH = str(Path(sys.executable).parent / "workbench")
ROOT = Path(__file__).resolve().parents[2]


def all_runs(uri):
    c = MlflowClient(uri)
    return c.search_runs([e.experiment_id for e in c.search_experiments()])


@pytest.mark.parametrize(
    "value,what",
    [
        ("naïve café — 日本語 🚀 \u202e RTL \u0000nul", "NUL"),
        ("caf\udce9", "not valid UTF-8"),  # a Latin-1 byte in argv (surrogateescape)
        ("\ud800", "not valid UTF-8"),
    ],
)
def test_unstorable_parameter_values_are_refused_up_front(tracking_store, fixture_notebook, value, what):
    import workbench as wb

    with pytest.raises(WorkbenchError, match=what) as e:
        wb.run_notebook(fixture_notebook, parameters={"name": value}, progress=False)
    assert "'name'" in str(e.value) and "params.ipynb" in str(e.value)
    assert all_runs(tracking_store) == []  # nothing left RUNNING: no run was created


def test_params_file_written_by_json_dumps_with_an_emoji(tmp_path, fixture_notebook):
    from workbench.cli import _params, build_parser

    f = tmp_path / "p.json"
    f.write_text(json.dumps({"name": "launch 🚀 日本"}))  # ASCII escapes: "\ud83d\ude80" (a surrogate pair)
    a = build_parser().parse_args(["run", str(fixture_notebook), "-f", str(f)])
    params, _ = resolve_parameters(fixture_notebook, _params(a))
    assert params["name"] == "launch 🚀 日本"


@pytest.mark.parametrize(
    "text,value",
    [
        ("1:30", "1:30"),
        ("0123", "0123"),
        ("yes", "yes"),
        ("on", "on"),
        ("2024-01-02", "2024-01-02"),
        ("0x1F", "0x1F"),
        ("1_000", "1_000"),
        ("12", 12),
        ("-3.5", -3.5),
        ("1e3", 1000.0),
        ("true", True),
        ("null", None),
        ("[1, 2]", [1, 2]),
        ('{"a": 1}', {"a": 1}),
        ("abc", "abc"),
    ],
)
def test_untyped_parameters_are_not_yaml_1_1(text, value):
    assert coerce(text, None) == value and type(coerce(text, None)) is type(value)


# ------------------------------------------------------------------ a full disk


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs (needs CAP_SYS_ADMIN; skipped elsewhere)."""
    d = tmp_path / "tiny"
    d.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(d)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root)")
    yield d
    subprocess.run(["umount", "-l", str(d)], capture_output=True)


@pytest.mark.slow
def test_disk_full_ends_with_a_short_error_and_nothing_running(tiny_disk, tmp_path):
    """Regression: on a 2 MiB workspace `workbench eval` ended in a 200-280-line traceback and left its run RUNNING."""
    from evalkit import write_dataset
    from fakes.openai_server import Chat, OpenAIServer

    up = OpenAIServer(Chat("The TrailLite 2 tent weighs 1.6 kg. " * 150))  # ~5 KB answers: 300 rows fill the disk
    try:
        (tiny_disk / "workbench.toml").write_text(up.toml(key_env=None))
        ds = write_dataset(tmp_path / "qa.jsonl", n=300)
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "WORKBENCH_RESPONSE_CACHE")}
        env.update(WORKBENCH_PROJECT_DIR=str(tiny_disk), PYTHONPATH=str(ROOT), TQDM_DISABLE="1")
        cmd = [
            WORKBENCH,
            "eval",
            "--dataset",
            str(ds),
            "--model",
            "fake:m",
            "--metrics",
            "quality/f1",
            "--cache",
            "off",
        ]
        outs = [subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env) for _ in range(2)]
        failed = [o for o in outs if o.returncode != 0]
        assert failed, "the 2 MiB disk never filled: make the answers longer"
        for o in failed:
            assert "disk full" in o.stderr.lower() and len(o.stderr.splitlines()) <= 40, o.stderr[-3000:]
        uri = f"sqlite:///{tiny_disk / 'mlflow.db'}"
        during = sorted(r.info.status for r in all_runs(uri))
        for p in (tiny_disk / ".workbench").rglob("*.jsonl"):  # free space, run again
            p.unlink()
        shutil.rmtree(tiny_disk / "mlartifacts", ignore_errors=True)
        again = subprocess.run(
            cmd[:2] + ["--dataset", str(write_dataset(tmp_path / "small.jsonl", n=2))] + cmd[4:],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert again.returncode == 0, again.stderr[-2000:]
        runs = all_runs(uri)
        assert runs and not [r.info.run_id for r in runs if r.info.status == "RUNNING"], [
            (r.info.status, r.data.tags.get("error")) for r in runs
        ]
        print(
            f"\nRELIABILITY held-out disk full: {len(failed)}/2 evaluations failed, stderr "
            f"{[len(o.stderr.splitlines()) for o in failed]} lines, last: "
            f"{failed[0].stderr.strip().splitlines()[-1][:100]!r}; statuses while full {during}, "
            f"after freeing space {sorted(r.info.status for r in runs)}"
        )
    finally:
        up.stop()


# ------------------------------------------------------------------ a fresh store, several processes at once

FIRST_USE = textwrap.dedent("""
    import sys
    from workbench.lifecycle import tracked_run
    with tracked_run("eval", "first-" + sys.argv[1]) as run:
        pass
    print(run.status)
""")


@pytest.mark.slow
def test_concurrent_first_use_of_a_fresh_sqlite_store(tmp_path):
    """Regression: processes migrating a new mlflow.db at once crashed ("table latest_metrics already exists",
    "duplicate column name: step") and could leave it half-built."""
    crashes, trials = [], 2
    for t in range(trials):
        project = tmp_path / f"p{t}"
        project.mkdir()
        env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI",)}
        env.update(WORKBENCH_PROJECT_DIR=str(project), PYTHONPATH=str(ROOT))
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", FIRST_USE, str(i)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(3)
        ]
        outs = [p.communicate(timeout=300) for p in procs]
        crashes += [
            err[-500:] for p, (out, err) in zip(procs, outs, strict=True) if p.returncode != 0 or "FINISHED" not in out
        ]
        runs = all_runs(f"sqlite:///{project / 'mlflow.db'}")
        assert sorted(r.info.status for r in runs) == ["FINISHED"] * 3, crashes
    assert not crashes, crashes
    print(f"\nRELIABILITY held-out fresh store: {trials} trials × 3 processes, 0 crashes")
