"""Conversations in MLflow: one trace per user turn, grouped by MLflow's session id (the UI's Sessions view
shows the conversation), model steps as CHAT_MODEL spans, tool calls as TOOL spans with their arguments and
results, and the conversation-level metrics as Feedback on the session's first trace.

:func:`evaluate_conversations` is the front door: :func:`workbench.evaluate` on a conversation set (each row a
conversation; each candidate a LoggedModel whose params include its tools) and then :func:`log_sessions`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from .. import tags as T, tracking
from .data import load_conversations

TRANSCRIPT = "conversation/steps.transcript"  # the per-row column that holds a conversation's turns
DEFAULT_METRICS = ["conversation", "quality/f1", "harm/refusal", "latency", "cost"]


@dataclass
class Sessions:
    """What :func:`log_sessions` wrote: per conversation (candidate, id, repeat), its session id and trace ids."""

    experiment_id: str
    sessions: dict[str, list[str]] = field(default_factory=dict)  # session id → trace ids, in turn order
    assessments: int = 0

    def summary(self) -> pd.DataFrame:
        return pd.DataFrame([{"session": s, "turns": len(t), "first_trace": t[0]} for s, t in self.sessions.items()])


def session_id(run_id: str | None, candidate: str, row_id: str, repeat: int = 0) -> str:
    """The MLflow session of one conversation as one candidate held it in one evaluation."""
    return f"{(run_id or 'local')[:12]}:{candidate}:{row_id}:r{repeat}"


def _ns(seconds) -> int:
    return int(float(seconds or 0.0) * 1e9)


def _turn_trace(turn: dict, n: int, sid: str, candidate: str, conv: str, model_id: str | None) -> str:
    """One user turn as a trace whose spans carry the turn's own times: the root from the turn's start for its
    elapsed time, each model step from when it was sent for its latency, each tool call for its run time (a
    transcript without start times: the turn ends now, its steps one after the other)."""
    import time

    import mlflow
    from mlflow.entities import SpanStatusCode, SpanType
    from mlflow.tracing.provider import safe_set_span_in_context

    t0 = int(turn.get("started_ns") or 0) or time.time_ns() - _ns(turn.get("elapsed_s"))
    calls = turn["calls"]
    starts = list(turn.get("step_starts") or [])
    if len(starts) != len(calls):  # older transcripts: each step right after the one before
        starts = [sum(float(c.get("latency_s") or 0.0) for c in calls[:k]) for k in range(len(calls))]
    root = mlflow.start_span_no_context(
        name=f"{candidate} turn {n}",
        span_type=SpanType.AGENT,
        inputs={"messages": [{"role": "user", "content": turn["user"]}]},
        start_time_ns=t0,
    )
    try:
        with safe_set_span_in_context(root):
            mlflow.update_current_trace(
                session_id=sid,
                model_id=model_id,
                tags={T.CANDIDATE: candidate, "workbench.conversation": conv, "workbench.turn": str(n)},
            )
        for k, (call, start) in enumerate(zip(calls, starts, strict=True), start=1):
            begin = t0 + _ns(start)
            s = mlflow.start_span_no_context(
                name=f"step {k}", span_type=SpanType.CHAT_MODEL, parent_span=root, start_time_ns=begin
            )
            s.set_attributes(
                {
                    f"workbench.{a}": call[a]
                    for a in ("latency_s", "prompt_tokens", "completion_tokens", "error")
                    if call.get(a) is not None
                }
            )
            s.set_outputs(call.get("text"))
            s.end(end_time_ns=begin + _ns(call.get("latency_s")))
            for tr in (t for t in turn["tool_calls"] if t.get("step") == k):
                tb = t0 + _ns(tr.get("start_s")) if tr.get("start_s") else begin + _ns(call.get("latency_s"))
                ts = mlflow.start_span_no_context(
                    name=tr["name"], span_type=SpanType.TOOL, parent_span=root, inputs=tr["arguments"], start_time_ns=tb
                )
                ts.set_outputs(tr["result"])
                ts.set_attributes({"workbench.elapsed_s": tr["elapsed_s"], "workbench.tool_error": tr["error"] or ""})
                if tr["error"]:
                    ts.set_status(SpanStatusCode.ERROR)
                ts.end(end_time_ns=tb + _ns(tr["elapsed_s"]))
        root.set_attributes({"workbench.steps": turn["steps"], "workbench.stopped": turn["stopped"] or ""})
        root.set_outputs(turn["answer"])
    finally:
        root.end(end_time_ns=t0 + _ns(turn.get("elapsed_s")))
    return root.trace_id


def _session_feedback(trace_id: str, sid: str, values: dict) -> int:
    """``values`` as CODE Feedback on the session's first trace with the session id in their metadata, the way
    MLflow's multi-turn scorers record session-level assessments (the Sessions view shows them)."""
    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType
    from mlflow.tracing.constant import TraceMetadataKey

    src = AssessmentSource(source_type=AssessmentSourceType.CODE, source_id="workbench")
    for name, value in values.items():
        mlflow.log_feedback(
            trace_id=trace_id, name=name, value=float(value), source=src, metadata={TraceMetadataKey.TRACE_SESSION: sid}
        )
    return len(values)


def log_sessions(result, candidates=None, run_id: str | None = None) -> Sessions:
    """Trace every conversation of ``result`` (an :class:`~workbench.evaluate.result.EvalResult` of
    conversation rows) turn by turn into the experiment of ``run_id`` (default ``result.run_id``), linked to
    that run and, given ``candidates``, to each candidate's LoggedModel."""
    from ..evaluate.record import logged_model
    from ..tracing import flush, install, route_to

    install()  # the span processor that scrubs secrets before export
    run_id = run_id or result.run_id
    exp = tracking.client().get_run(run_id).info.experiment_id if run_id else tracking.experiment_id(None)
    route_to(exp)
    models = {c.name: logged_model(c, exp) for c in candidates or ()}
    out = Sessions(exp)
    conv_metrics = [m.name for m in result.metric_defs if m.family == "conversation"]
    for r in result.rows.to_dict(orient="records"):
        if not isinstance(r.get(TRANSCRIPT), str):
            continue
        sid = session_id(run_id, r["candidate"], str(r["id"]), int(r.get("repeat") or 0))
        turns = json.loads(r[TRANSCRIPT])
        ids = [
            _turn_trace(t, n, sid, r["candidate"], str(r["id"]), models.get(r["candidate"]))
            for n, t in enumerate(turns, 1)
        ]
        out.sessions[sid] = ids
        flush()  # the turn traces are in the store before feedback is logged on them
        vals = {m: r.get(m) for m in conv_metrics if isinstance(r.get(m), (int, float)) and r.get(m) == r.get(m)}
        out.assessments += _session_feedback(ids[0], sid, vals)
    if run_id and out.sessions:
        all_ids = [t for ids in out.sessions.values() for t in ids]
        for i in range(0, len(all_ids), 100):
            tracking.client().link_traces_to_run(all_ids[i : i + 100], run_id)
    return out


def evaluate_conversations(dataset, candidates, metrics: list[str] | None = None, **options):
    """Evaluate ``candidates`` (usually :class:`~workbench.conversations.agent.ToolCandidate`s) on a
    conversation set (a path or a loaded dataset): :func:`workbench.evaluate` with the conversation metrics
    (default :data:`DEFAULT_METRICS`) and no row traces, then one trace per turn grouped by session
    (:func:`log_sessions`) when the result is logged. Returns ``(EvalResult, Sessions | None)``."""
    from ..evaluate.runner import evaluate

    ds = load_conversations(dataset) if not hasattr(dataset, "df") else dataset
    result = evaluate(ds, candidates, metrics or DEFAULT_METRICS, trace=False, **options)
    sessions = log_sessions(result, candidates) if result.run_id and options.get("log", True) else None
    return result, sessions


def transcript(result, row_id: str, candidate: str | None = None, repeat: int = 0) -> pd.DataFrame:
    """One conversation as a candidate held it: a line per user turn (user, answer, reference, tool calls,
    steps, tokens, why the loop stopped)."""
    rows = result.rows
    sel = (rows["id"].astype(str) == str(row_id)) & (rows.get("repeat", 0) == repeat)
    if candidate is not None:
        sel &= rows["candidate"] == candidate
    r = rows[sel].iloc[0]
    turns = json.loads(r[TRANSCRIPT])
    return pd.DataFrame(
        [
            {
                "candidate": r["candidate"],
                "user": t["user"],
                "answer": t["answer"],
                "reference": t["reference"],
                "tool_calls": "; ".join(
                    f"{c['name']}({json.dumps(c['arguments'])})" + (" ERROR" if c["error"] else "")
                    for c in t["tool_calls"]
                ),
                "steps": t["steps"],
                "tokens": t["tokens"],
                "stopped": t["stopped"],
            }
            for t in turns
        ]
    )
