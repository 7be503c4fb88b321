"""Whole-trace export (``workbench.tracing``): a trace is written with ``start_trace`` before its spans, all of
its spans in one ``log_spans`` call; evaluation rows (traces tagged ``workbench.candidate``) are written
``BATCH_TRACES`` at a time and :func:`workbench.tracing.flush` writes what is pending; what MLflow reads back is the
whole trace (spans, assessments, tags, state). Real MLflow on sqlite; the store's two methods are wrapped only to
record the order of the calls."""

from __future__ import annotations

import os
import subprocess
import sys

import mlflow
import pytest
from mlflow.entities import AssessmentSource, Feedback, SpanType
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from mlflow.tracing.trace_manager import InMemoryTraceManager

from workbench import tracing

SRC = AssessmentSource(source_type="CODE", source_id="test")


@pytest.fixture
def calls(request, tracking_store, monkeypatch):
    """The store calls made, in order: ``("start", trace_id)`` and ``("spans", n_traces, n_spans)``. The store is
    the test's sqlite one, or a fresh PostgreSQL database where the test is parametrized with ``"postgresql"``."""
    if getattr(request, "param", "sqlite") == "postgresql":
        from workbench.server import backend_uri

        tracking_store = backend_uri(request.getfixturevalue("pg_database"))
        monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_store)
    seen: list[tuple] = []
    start, log_spans = SqlAlchemyStore.start_trace, SqlAlchemyStore.log_spans

    def start_trace(self, trace_info):
        seen.append(("start", trace_info.trace_id))
        return start(self, trace_info)

    def spans(self, location, spans, tracking_uri=None):
        seen.append(("spans", len({s.trace_id for s in spans}), len(spans)))
        return log_spans(self, location, spans, tracking_uri=tracking_uri)

    monkeypatch.setattr(SqlAlchemyStore, "start_trace", start_trace)
    monkeypatch.setattr(SqlAlchemyStore, "log_spans", spans)
    mlflow.set_tracking_uri(tracking_store)
    mlflow.set_experiment("t-trace-export")
    tracing.install()
    yield seen
    tracing.flush()


def _trace(i: int, candidate: bool) -> str:
    with mlflow.start_span(name="row", span_type=SpanType.CHAIN) as root:
        root.set_inputs({"question": f"q{i}"})
        with mlflow.start_span(name="chat", span_type=SpanType.CHAT_MODEL) as call:
            call.set_inputs({"messages": [{"role": "user", "content": f"q{i}"}]})
            call.set_outputs("an answer")
        root.set_outputs("an answer")
        with InMemoryTraceManager.get_instance().get_trace(root.trace_id) as t:
            t.info.assessments.append(Feedback(name="quality/f1", value=0.5, source=SRC, span_id=root.span_id))
            if candidate:
                t.info.tags["workbench.candidate"] = "c"
    return root.trace_id


def _stored(tid: str):
    try:
        return mlflow.get_trace(tid)
    except Exception:  # noqa: BLE001 - not in the store
        return None


def test_a_trace_is_written_before_its_spans_in_one_call(calls):
    tid = _trace(0, candidate=False)
    tracing.flush()  # MLflow's asynchronous queue; nothing of ours is pending for a trace without a candidate
    mine = [c for c in calls if c[0] == "spans" or c[1] == tid]
    assert mine == [("start", tid), ("spans", 1, 2)], calls
    t = mlflow.get_trace(tid)
    assert {s.name for s in t.data.spans} == {"row", "chat"}
    assert [a.name for a in t.info.assessments] == ["quality/f1"]
    assert str(t.info.state) in {"OK", "TraceState.OK"} and t.info.request_preview


def test_evaluation_rows_are_written_in_batches_and_flush_writes_the_rest(calls, monkeypatch):
    monkeypatch.setattr(tracing, "BATCH_TRACES", 3)
    mlflow.flush_trace_async_logging(terminate=False)
    ids = [_trace(i, candidate=True) for i in range(4)]
    mlflow.flush_trace_async_logging(terminate=False)  # MLflow's queue only: one row waits for a batch
    assert [c for c in calls if c[0] == "spans"] == [("spans", 3, 6)], calls
    # MLflow's queue hands traces to several worker threads, so which row waits is not fixed: exactly one does
    waiting = [t for t in ids if _stored(t) is None]
    assert len(waiting) == 1, (waiting, calls)
    tracing.flush()
    assert [c for c in calls if c[0] == "spans"] == [("spans", 3, 6), ("spans", 1, 2)], calls
    got = _stored(waiting[0])
    assert got is not None and len(got.data.spans) == 2 and got.info.tags["workbench.candidate"] == "c"
    starts = [c[1] for c in calls if c[0] == "start"]
    assert sorted(starts) == sorted(ids) and starts[-1] == waiting[0]  # every trace once; the waiting one last


def _commits(store) -> list[int]:
    from sqlalchemy import event

    seen: list[int] = []
    event.listen(store.engine, "commit", lambda conn: seen.append(1))
    return seen


BOTH_STORES = pytest.mark.parametrize(
    "calls", ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)], indirect=True
)


@BOTH_STORES
def test_a_batch_of_rows_is_stored_in_one_transaction(calls, monkeypatch):
    """Several evaluation rows: one commit for all their traces and spans (before: two sessions and commits per
    trace, and one for the spans), and what MLflow reads back is each whole trace."""
    from mlflow.tracking._tracking_service.utils import _get_store

    monkeypatch.setattr(tracing, "BATCH_TRACES", 3)
    mlflow.flush_trace_async_logging(terminate=False)
    commits = _commits(_get_store())
    ids = [_trace(i, candidate=True) for i in range(3)]
    mlflow.flush_trace_async_logging(terminate=False)
    tracing.flush()
    assert [c for c in calls if c[0] == "spans"] == [("spans", 3, 6)], calls
    assert len(commits) == 1, commits
    for tid in ids:
        t = mlflow.get_trace(tid)
        assert {s.name for s in t.data.spans} == {"row", "chat"}
        assert [a.name for a in t.info.assessments] == ["quality/f1"]
        assert t.info.tags["workbench.candidate"] == "c"


@BOTH_STORES
def test_a_batch_that_meets_a_stored_trace_is_written_trace_by_trace(calls, monkeypatch):
    """One trace of the batch is already in the store (its spans came first, as from another writer): MLflow's
    conflict path rolls the session back, so the batch is not kept whole; every trace is then written in its own
    transactions, none lost, none doubled."""
    from mlflow.tracking._tracking_service.utils import _get_store

    monkeypatch.setattr(tracing, "BATCH_TRACES", 3)
    shared = tracing._shared_store
    tried: list[str] = []

    def first_one_stored(items):
        store = shared(items)
        _, trace, _ = items[1]
        store.log_spans(trace.info.experiment_id, trace.data.spans)  # outside the batch: its own transaction
        tried.append(trace.info.trace_id)
        return store

    monkeypatch.setattr(tracing, "_shared_store", first_one_stored)
    mlflow.flush_trace_async_logging(terminate=False)
    commits = _commits(_get_store())
    ids = [_trace(i, candidate=True) for i in range(3)]
    mlflow.flush_trace_async_logging(terminate=False)
    tracing.flush()
    assert tried and tried[0] in ids
    assert len(commits) > 2, commits  # the batch was not committed as one
    starts = [c[1] for c in calls if c[0] == "start"]
    assert sorted(set(starts)) == sorted(ids)
    for tid in ids:
        t = mlflow.get_trace(tid)
        assert sorted(s.name for s in t.data.spans) == ["chat", "row"], tid
        assert [a.name for a in t.info.assessments] == ["quality/f1"], tid


def test_flush_waits_for_the_queued_traces_without_stopping_the_export_threads(calls):
    """MLflow's ``flush(terminate=False)`` stops the export queue's consumer thread, which notices only at the end
    of its 1 s ``queue.get`` timeout, and starts a new one: a second of idle wait at the end of each evaluation.
    The workbench waits for the queued traces instead: the same threads before and after, every trace stored."""
    from mlflow.tracking.fluent import _get_trace_exporter

    first = _trace(0, candidate=False)
    mlflow.flush_trace_async_logging(terminate=False)
    q = _get_trace_exporter()._async_queue
    consumer = q._consumer_thread
    ids = [_trace(i, candidate=False) for i in range(1, 4)]
    mlflow.flush_trace_async_logging(terminate=False)
    assert q._consumer_thread is consumer and consumer.is_alive()
    assert all(_stored(t) is not None for t in [first, *ids]), calls


def test_mlflow_own_export_is_kept_when_asked(tracking_store, tmp_path):
    """``WORKBENCH_TRACE_EXPORT=mlflow``: MLflow's exporter is left as it is (checked in a fresh process)."""
    code = (
        "from mlflow.tracing.export.mlflow_v3 import MlflowV3SpanExporter as E\n"
        "before = E._log_trace\n"
        "from workbench import tracing\n"
        "tracing.install()\n"
        "print(E._log_trace is before)\n"
    )
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking_store}
    for setting, kept in (("mlflow", "True"), ("", "False")):
        out = subprocess.run(
            [sys.executable, "-c", code],
            env={**env, "WORKBENCH_TRACE_EXPORT": setting},
            capture_output=True,
            text=True,
            timeout=120,
            cwd=tmp_path,
        )
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip().splitlines()[-1] == kept, (setting, out.stdout)
