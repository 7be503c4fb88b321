"""The garbage collector during long jobs (workbench.heap): what existed before is left out of its passes while
the job runs, handed back at the end, nothing kept for good; an evaluation's rows run that way."""

from __future__ import annotations

import gc
import threading
import weakref

import pandas as pd
import pytest

import workbench as wb
from workbench import heap


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the cyclic collector frees it


@pytest.fixture(autouse=True)
def _unfrozen():
    assert gc.get_freeze_count() == 0
    yield
    gc.unfreeze()


def test_objects_from_before_are_left_out_until_the_block_ends_then_collected():
    old = Node()
    gone = weakref.ref(old)
    with heap.settled():
        assert gc.get_freeze_count() > 0
        del old
        gc.collect()
        assert gone() is not None  # frozen: the full pass did not look at it
        new = Node()
        new_gone = weakref.ref(new)
        del new
        gc.collect()
        assert new_gone() is None  # made inside the block: collected as usual
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert gone() is None  # handed back: not kept for good


def test_settle_freezes_what_the_job_built_so_far():
    with heap.settled():
        built = Node()
        gone = weakref.ref(built)
        heap.settle()
        del built
        gc.collect()
        assert gone() is not None
    gc.collect()
    assert gone() is None


def test_settle_outside_a_block_does_nothing():
    heap.settle()
    assert gc.get_freeze_count() == 0


def test_nested_and_concurrent_blocks_unfreeze_once_the_last_ends():
    inside, release = threading.Event(), threading.Event()

    def other():
        with heap.settled():
            inside.set()
            release.wait(10)

    t = threading.Thread(target=other)
    with heap.settled():
        t.start()
        assert inside.wait(10)
    assert gc.get_freeze_count() > 0  # the other thread's block is still open
    release.set()
    t.join(10)
    assert gc.get_freeze_count() == 0


def test_a_process_that_froze_objects_itself_keeps_them_frozen():
    # Judged by what the collector does, not by gc.get_freeze_count(): a frozen object whose last reference goes
    # is freed and leaves the count (Python 3.13 shows it between two reads), so the count is no fixed figure.
    old = Node()
    gone = weakref.ref(old)
    gc.freeze()
    with heap.settled():
        pass
    del old
    gc.collect()
    assert gone() is not None  # still frozen after the block: settled() did not unfreeze what it had not frozen
    gc.unfreeze()
    gc.collect()
    assert gone() is None


def test_an_evaluation_runs_its_rows_with_the_older_objects_frozen(tmp_path):
    seen = []

    def answer(row):
        seen.append(gc.get_freeze_count())
        return "four"

    ds = pd.DataFrame([{"id": f"r{i}", "question": "2+2?", "reference": "four"} for i in range(3)])
    wb.evaluate(ds, answer, metrics=["quality/exact_match"], progress=False, log=False, checkpoint=tmp_path / "c.jsonl")
    assert len(seen) == 3 and all(n > 0 for n in seen)
    assert gc.get_freeze_count() == 0


def test_importing_pauses_the_collector_and_restores_it():
    assert gc.isenabled()
    with heap.importing():
        assert not gc.isenabled()
        with heap.importing():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block is still open
    assert gc.isenabled()


def test_importing_leaves_a_collector_the_process_disabled_disabled():
    gc.disable()
    try:
        with heap.importing():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_the_packages_lazy_names_load_with_the_collector_paused(monkeypatch):
    import importlib

    seen = []
    real = importlib.import_module

    def recording(name, *a, **k):
        seen.append((name, gc.isenabled()))
        return real(name, *a, **k)

    monkeypatch.setattr(importlib, "import_module", recording)
    monkeypatch.delitem(wb.__dict__, "load_dataset", raising=False)
    assert wb.load_dataset is not None
    assert ("workbench.data", False) in seen and gc.isenabled()


def test_the_tracking_store_opens_with_the_collector_paused(monkeypatch, tmp_path):
    """tracking.configure() creates or opens the store (MLflow's store modules, their ORM mappers) with the
    collector paused, and enables it again after."""
    from mlflow import MlflowClient

    from workbench import tracking

    seen = []
    real = MlflowClient.search_experiments

    def recording(self, *a, **k):
        seen.append(gc.isenabled())
        return real(self, *a, **k)

    monkeypatch.setattr(MlflowClient, "search_experiments", recording)
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(tmp_path))
    monkeypatch.setattr(tracking, "_ready_stores", set())
    monkeypatch.setattr(tracking.mlflow, "set_tracking_uri", lambda uri: None)  # leave the session's store as it is
    tracking.configure()
    assert seen == [False] and gc.isenabled()
