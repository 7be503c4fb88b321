"""The evaluation plan: ``wb.evaluate``'s options are checked against :class:`EvalPlan` (an unknown one is a usage
error naming the valid ones), and one executor registry serves sweeps and evaluations."""

from __future__ import annotations

import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

import workbench as wb
from workbench.errors import EXIT_USAGE, UnknownOption, UsageError


def _ds(tmp_path, n=6):
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "".join(json.dumps({"id": f"q{i}", "question": f"say {i}", "reference": str(i)}) + "\n" for i in range(n))
    )
    return path


async def echo_number(row):
    """A callable candidate: answers the number in the question (async and at module level, so it pickles by
    reference into worker processes)."""
    return row["question"].split()[-1]


def test_an_unknown_option_of_evaluate_names_it_and_the_valid_ones(tmp_path, project_dir):
    with pytest.raises(UsageError) as e:
        wb.evaluate(_ds(tmp_path), [echo_number], metrics=["quality/exact_match"], log=False, progres=False)
    assert e.value.exit_code == EXIT_USAGE == 2
    msg = str(e.value)
    assert "unknown option(s) 'progres'" in msg and "progress" in msg and "partition_rows" in msg, msg


def test_every_documented_option_of_evaluate_is_accepted(tmp_path, project_dir):
    res = wb.evaluate(
        _ds(tmp_path),
        [echo_number],
        ["quality/exact_match"],
        1,
        2,
        "off",
        None,
        None,
        checkpoint=tmp_path / "c.jsonl",
        log=False,
        trace=False,
        progress=False,
        resume=False,
        embed_model=None,
        executor="local",
        scheduler=None,
        workers=None,
        partition_rows=None,
        run_id=None,
    )
    assert res.complete and res.metrics["quality/exact_match/mean"] == 1.0


def test_an_unknown_option_of_the_eval_command_is_a_usage_error(tmp_path, project_dir):
    from workbench.evaluate.cli import run_eval_cli

    with pytest.raises(
        UsageError,
        match=r"workbench eval\(\) got unknown option\(s\) 'budget': it accepts .*"
        r"system_prompt.*budget_usd",
    ):
        run_eval_cli(str(_ds(tmp_path)), "local", budget=1.0, echo=lambda *_: None)


def test_an_unknown_option_of_the_metric_decorator_names_the_valid_ones():
    from workbench.evaluate.metrics import METRICS, metric

    with pytest.raises(UnknownOption, match=r"metric\(\) got unknown option\(s\) 'need_llm': it accepts needs_llm"):
        metric("quality/typo", higher_is_better=True, range=(0, 1), description="d", need_llm=True)
    assert "quality/typo" not in METRICS


def test_an_unknown_executor_fails_before_any_row_runs(tmp_path, project_dir):
    with pytest.raises(wb.WorkbenchError, match=r"unknown executor 'nowhere': one of \[.*'dask'.*'local'"):
        wb.evaluate(_ds(tmp_path), [echo_number], metrics=["quality/exact_match"], log=False, executor="nowhere")


class Counted:
    """A user's executor: a spawn process pool that counts its uses."""

    def __init__(self):
        self.uses = []

    def __call__(self, workers: int, scheduler: str | None):
        self.uses.append(workers)
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))


@pytest.fixture
def counted_executor():
    from workbench.executors import EXECUTORS, register_executor

    pool = Counted()
    register_executor("counted", pool)
    yield pool
    EXECUTORS.pop("counted", None)


def test_a_registered_executor_runs_an_evaluation_in_partitions(counted_executor, tmp_path, project_dir):
    res = wb.evaluate(
        _ds(tmp_path, 8),
        [echo_number],
        metrics=["quality/exact_match"],
        log=False,
        progress=False,
        executor="counted",
        workers=1,
        partition_rows=3,
    )
    assert counted_executor.uses == [1]
    assert res.complete and res.computed_rows == 8 and res.metrics["quality/exact_match/mean"] == 1.0
    assert list(res.rows["id"]) == [f"q{i}" for i in range(8)]


@pytest.mark.slow
def test_one_registered_executor_serves_a_sweep_and_an_evaluation(
    counted_executor, tracking_store, fixture_notebook, tmp_path, project_dir
):
    """Two registries (sweeps in runs/executors, evaluations in evaluate/engine) meant an executor registered for
    sweeps was unknown to ``wb.evaluate``."""
    res = wb.sweep(
        fixture_notebook, {"n": ["1"]}, workers=1, executor="counted", experiment="t-executor", echo=lambda *_: None
    )
    assert res.ok and counted_executor.uses == [1]
    ev = wb.evaluate(
        _ds(tmp_path, 4),
        [echo_number],
        metrics=["quality/exact_match"],
        log=False,
        progress=False,
        executor="counted",
        workers=1,
    )
    assert ev.complete and counted_executor.uses == [1, 1]
