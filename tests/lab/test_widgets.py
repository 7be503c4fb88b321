"""The playground and review widgets driven from Python the way their buttons drive them (the browser suite in
tests/browser/ clicks them in a real JupyterLab), the project root every entry point shares, the kernel's own
run (readable name, ended at exit), and the known-harmless warnings filtered."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient

import workbench as wb
from workbench.config import find_project_dir
from workbench.widgets.playground import Playground, model_options, parse_job
from workbench.widgets.review import Review, word_diff


def _click_and_wait(pg: Playground) -> None:
    pg.run_button.click()
    if pg._thread is not None:
        pg._thread.join(120)


def test_playground_resolves_aliases_and_endpoint_names(project_dir):
    options, chosen, problems = model_options(["local"])
    assert chosen and chosen[0].startswith("local:") and chosen[0] in options and not problems
    pg = Playground(models="local")  # 01_explore's default: the endpoint name, not an option
    assert pg.models.value == tuple(chosen)
    pg = Playground(models=["nosuch:model", "local"])
    assert "unknown endpoint 'nosuch'" in pg.status.value and pg.models.value == tuple(chosen)


@pytest.mark.parametrize(
    "variables, template, expected",
    [
        ('{"question": "x"', "Q: {question}", "invalid JSON at line 1, column 17"),
        ('{"q": "x"}', "Q: {question}", 'template uses {question} but variables has no "question"'),
        ("[1, 2]", "Q: {question}", "expected a JSON object"),
    ],
)
def test_playground_bad_input_is_a_message_not_a_traceback(project_dir, variables, template, expected):
    pg = Playground(template=template, models="local")
    pg.variables.value = variables
    pg.run_button.click()  # must not raise
    assert expected in pg.status.value and "wb-error" in pg.status.value and pg._thread is None
    with pytest.raises(wb.errors.WorkbenchError):
        parse_job(template, variables, ["local:smollm2"])


def test_playground_endpoint_down_is_a_message(workbench_toml, project_dir):
    workbench_toml('[endpoints.down]\nkind = "openai_compatible"\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m"]\n')
    pg = Playground(models="down:m", max_tokens=4)
    _click_and_wait(pg)
    assert "1 of 1 call(s) failed" in pg.status.value and "down:m" in pg.status.value
    assert pg.results["error"].notna().all() and "<table" in pg.table.value
    assert not pg.run_button.disabled and pg.cancel_button.disabled


def test_playground_runs_two_models_side_by_side_logs_and_saves(local_server, tracking_store, workbench_toml):
    workbench_toml(
        f'[endpoints.mirror]\nkind = "openai_compatible"\nbase_url = "{local_server.base_url}"\nmodels = ["smollm2"]\n'
    )
    pg = Playground(template="Say {word}.", variables={"word": "hello"}, models="local,mirror:smollm2", max_tokens=8)
    _click_and_wait(pg)
    r = pg.results
    assert list(r["model"]) == ["local:smollm2", "mirror:smollm2"] and r["output"].str.len().min() > 0, pg.status.value
    assert r[["latency_s", "completion_tokens"]].notna().all().all() and r["error"].isna().all()
    assert pg.table.value.count("<tr") == 3 and "ttft_s" in pg.table.value and "cost_usd" in pg.table.value
    pg.log_button.click()
    pg.log_button.click()  # twice: a second log must not hit MLflow's write-once params
    rid = wb.tracking.current_run_id()
    assert "playground.json" in {a.path for a in MlflowClient(tracking_store).list_artifacts(rid)}
    pg.prompt_name.value = "pg-test"
    pg.save_button.click()
    assert "version 1" in pg.status.value
    assert wb.prompts.load("pg-test") == "Say {word}."
    wb.tracking.end_own_run()


def test_playground_cancel_stops_calls_in_flight(local_server, project_dir):
    pg = Playground(
        template="Count from 1 to 500, one number per line. {x}", variables={"x": ""}, models="local", max_tokens=1000
    )
    pg.variables.value = json.dumps([{"x": f"({i})"} for i in range(4)])
    pg._guard(pg.start)
    import time

    time.sleep(0.5)
    pg.cancel_button.click()
    pg._thread.join(60)
    assert not pg.running and "cancelled" in pg.status.value, pg.status.value


def _rows():
    a = pd.DataFrame(
        {
            "id": ["1", "2", "3"],
            "repeat": 0,
            "input": ["q1", "q2", "q3"],
            "reference": ["r"] * 3,
            "answer": ["x", "y", "z"],
            "error": [None, None, None],
            "quality/f1": [1.0, 0.0, 1.0],
        }
    )
    return a, a.assign(answer=["x", "r", "w"], **{"quality/f1": [1.0, 1.0, 0.0]})


def test_review_widget_labels_are_saved_as_they_are_given(tmp_path):
    a, b = _rows()
    rv = Review(a, b, labels_path=tmp_path / "labels.jsonl")
    rv.filter.value = "flipped"
    assert len(rv.visible()) == 2 and rv.current()["id"] == "2"
    assert "<del" in rv.view.value and "<ins" in rv.view.value  # the diff of the two answers
    rv.note.value = "better"
    rv.good.click()
    saved = [json.loads(line) for line in (tmp_path / "labels.jsonl").read_text().splitlines()]
    assert saved == [
        {
            "id": "2",
            "question": "q2",
            "reference": "r",
            "answer_a": "y",
            "answer_b": "r",
            "label": "good",
            "note": "better",
        }
    ]
    rv.bad.click()
    assert rv.labels == {"2": {"label": "good", "note": "better"}, "3": {"label": "bad", "note": ""}}
    ds = wb.load_dataset(tmp_path / "labels.jsonl")
    assert len(ds) == 2 and set(ds.df["label"]) == {"good", "bad"}


def test_review_save_to_mlflow_logs_a_table(tmp_path, tracking_store):
    a, b = _rows()
    rv = Review(a, b, labels_path=tmp_path / "l.jsonl")
    rv.good.click()
    rv.save_button.click()
    rid = wb.tracking.current_run_id()
    assert "logged to run" in rv.status.value, rv.status.value
    assert len(wb.tracking.load_table(rid, "review_labels.json")) == 1
    wb.tracking.end_own_run()


def test_word_diff_marks_removed_and_added_words():
    assert (
        word_diff("a red tent", "a blue tent") == 'a <del style="color:#b00020">red</del> '
        '<ins style="color:#1b5e20">blue</ins> tent'
    )


def test_project_dir_is_found_from_a_subdirectory(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_PROJECT_DIR", raising=False)
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    assert find_project_dir(tmp_path / "notebooks") == tmp_path  # a kernel in notebooks/ uses the root's store
    (tmp_path / "notebooks" / "deep").mkdir()
    (tmp_path / "workbench.toml").write_text("")
    (tmp_path / "notebooks" / ".git").mkdir()  # workbench.toml wins over a nearer .git
    assert find_project_dir(tmp_path / "notebooks" / "deep") == tmp_path
    bare = tmp_path / "x"
    bare.mkdir()
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(bare))
    assert find_project_dir(tmp_path / "notebooks") == bare


def test_own_run_has_a_readable_name_and_ends_when_the_process_exits(tracking_store, tmp_path):
    code = (
        "import workbench as wb; rid = wb.tracking.current_run_id(); "
        "assert wb.tracking.current_run_id() == rid; print(rid)"
    )
    env = {**os.environ, "JPY_SESSION_NAME": str(tmp_path / "01_explore.ipynb")}
    env.pop("WORKBENCH_RUN_ID", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    run = MlflowClient(tracking_store).get_run(out.stdout.split()[-1])
    assert run.info.run_name.startswith("01_explore ") and run.info.status == "FINISHED"
    assert run.data.tags["workbench.kind"] == "interactive"
    assert "Creating initial MLflow database tables" not in out.stderr


def test_known_harmless_warnings_are_filtered(tracking_store):
    wb.tracking.configure()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        wb.tracking.quiet_known_noise()
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        ax.legend()  # no labelled artists: matplotlib warns
        plt.close(fig)
        wb.tracking.log_dataset(pd.DataFrame({"a": [1]}), name="d", source=str(Path.cwd()))
        warnings.warn("a real warning stays", UserWarning, stacklevel=1)
    texts = [str(w.message) for w in caught]
    assert "a real warning stays" in texts
    noise = ("interpreted in multiple ways", "No artists with labels", "Inferred schema contains integer")
    assert not [t for t in texts if any(n in t for n in noise)], texts
    wb.tracking.end_own_run()


def test_workbench_run_prints_the_headline_metrics_first_and_a_ui_link():
    from workbench.cli import headline_metrics, ui_link

    metrics = {f"aaa/m{i}": 1.0 for i in range(30)}
    metrics.update(
        {
            "cost/usd/total": 0.1,
            "base/quality/f1/mean": 0.5,
            "quality/f1/ci_low": 0.4,
            "latency/ttft_s/p95": 0.2,
            "harm/toxicity/mean": 0.0,
            "honesty/groundedness/mean": 0.7,
            "workbench/internal": 1.0,
        }
    )
    keys = [k for k, _ in headline_metrics(metrics, limit=6)]
    assert keys == [
        "base/quality/f1/mean",
        "quality/f1/ci_low",
        "honesty/groundedness/mean",
        "harm/toxicity/mean",
        "latency/ttft_s/p95",
        "cost/usd/total",
    ]
    assert ui_link("3", "abc") == "http://127.0.0.1:5000/#/experiments/3/runs/abc"


@pytest.mark.slow
def test_workbench_run_kernel_starts_without_the_tcp_warning(tracking_store, fixture_notebook, tmp_path):
    out = subprocess.run(
        [
            str(Path(sys.executable).parent / "workbench"),
            "run",
            str(fixture_notebook),
            "-q",
            "--output",
            str(tmp_path / "out.ipynb"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "without encryption" not in out.stderr + out.stdout
    assert "open it: http://127.0.0.1:5000/#/experiments/" in out.stdout


EVALUATE_TWICE = """
import workbench as wb
from workbench.candidates import PromptCandidate
ds = wb.load_dataset(wb.load_dataset(QA).df.head(3), name="three")
first = wb.evaluate(ds, [PromptCandidate("local", name="base", max_tokens=8)])
second = wb.evaluate(ds, [PromptCandidate("local", name="terse", max_tokens=8, system_prompt="Answer in five words.")])
third = wb.evaluate(ds, [PromptCandidate("local", name="base", max_tokens=8)])
print(first.run_id, second.run_id, third.run_id)
"""


@pytest.mark.slow
def test_evaluate_twice_in_one_real_kernel(local_server, tracking_store, tmp_path):
    """The ordinary interactive workflow, in a real Jupyter kernel: evaluate a candidate, then another, then the
    first again — never raises."""
    import nbformat
    from nbclient import NotebookClient

    qa = Path(__file__).resolve().parents[2] / "datasets" / "contoso" / "qa.jsonl"
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(EVALUATE_TWICE.replace("QA", repr(str(qa))))])
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    out = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.get("name") == "stdout")
    ids = out.split()
    assert len(ids) == 3 and len(set(ids)) == 3, nb.cells[0].outputs  # three calls, three runs of their own
