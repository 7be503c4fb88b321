"""Conversations and tool-using candidates: the dataset format, the bounded tool loop, tool errors, the
conversation metrics, sessions in MLflow, and one end-to-end run on the embedded model."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

import workbench.conversations as conv
from workbench.conversations.agent import turn_expectations
from workbench.conversations.metrics import args_match, tool_match
from workbench.conversations.protocols import JsonSchema, ToolsAPI, protocol_for
from workbench.errors import DatasetError
from workbench.llm.client import LLMClient, run_sync

ROOT = Path(__file__).resolve().parents[2]
CONTOSO = ROOT / "datasets" / "contoso" / "conversations.jsonl"
LOOKUP = {"tool": "customer_lookup", "arguments": {"customer_id": "C001"}}
ROW = {
    "id": "c1",
    "messages": [{"role": "user", "content": "Which tier is customer C001 in?"}],
    "reference": "Gold",
    "expected_tool_calls": [{"name": "customer_lookup", "arguments": {"customer_id": "C001"}}],
    "expect_refusal": False,
}


def _jsonl(tmp_path, rows) -> Path:
    p = tmp_path / "c.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


@pytest.mark.parametrize(
    ("messages", "extra", "says"),
    [
        ([{"role": "robot", "content": "hi"}], {}, "role 'robot'"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], {}, "two user turns"),
        (
            [{"role": "user", "content": "a"}, {"role": "tool", "content": "x"}, {"role": "user", "content": "b"}],
            {},
            "tool result must follow",
        ),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}], {}, "the last turn is 'assistant'"),
        ([{"role": "user", "content": "a"}], {"expected_tool_calls": [{"arguments": {}}]}, "expected_tool_calls"),
        ([{"role": "user", "content": "a"}], {"expect_refusal": "yes"}, "expect_refusal"),
    ],
)
def test_format_errors_name_file_and_line(tmp_path, messages, extra, says):
    path = _jsonl(tmp_path, [ROW, {"id": "bad", "messages": messages, **extra}])
    with pytest.raises(DatasetError) as e:
        conv.load_conversations(path)
    assert (e.value.file, e.value.line) == (str(path), 2) and says in str(e.value)


def test_contoso_conversation_set():
    ds = conv.load_conversations(CONTOSO)
    rows = ds.rows
    assert len(rows) >= 60 and {r["split"] for r in rows} == {"dev", "test"}
    kinds = {r["tags"]["kind"] for r in rows}
    assert {"order", "customer", "catalogue", "refusal"} <= kinds
    assert all(2 <= r["tags"]["turns"] <= 6 for r in rows)
    assert all(not r["expected_tool_calls"] for r in rows if r["expect_refusal"])
    tools = conv.contoso_tools(retriever=object())  # every expected call names a Contoso tool
    assert {c["name"] for r in rows for c in r["expected_tool_calls"]} <= set(tools.by_name)
    three = next(r for r in rows if r["tags"]["turns"] == 6)
    assert len(turn_expectations(three)) == 3


def test_protocol_is_the_endpoint_kinds(fake_endpoint):
    fake_endpoint()
    assert isinstance(protocol_for("local"), JsonSchema)  # the embedded model: constrained decoding
    assert isinstance(protocol_for("fake:m"), ToolsAPI)  # an OpenAI-compatible endpoint: the tools API


def _run(cand, row=ROW):
    return run_sync(cand.aanswer(row, LLMClient(cache="off", max_retries=0)), timeout=60)


def test_loop_stops_at_max_steps(fake_endpoint):
    up = fake_endpoint(text=json.dumps(LOOKUP))  # a model that calls a tool forever
    cand = conv.ToolCandidate("fake:m", "contoso", max_steps=3, protocol="json_schema")
    ans = _run(cand)
    (turn,) = ans.turns
    assert turn.stopped == "max_steps" and len(turn.calls) == 3 and up.calls == 3
    assert len(turn.tool_results) == 3 and ans.error == "tool_loop_max_steps"
    schemas = [b["response_format"]["json_schema"]["schema"]["anyOf"] for b in up.bodies]
    assert [len(s) for s in schemas] == [4, 4, 1]  # 3 tools or an answer; the last step allowed: an answer only


def test_loop_stops_at_max_seconds(fake_endpoint):
    up = fake_endpoint(text=json.dumps(LOOKUP), delay_s=0.4)
    cand = conv.ToolCandidate("fake:m", "contoso", max_steps=100, max_seconds=1.0, protocol="json_schema")
    t0 = time.perf_counter()
    ans = _run(cand)
    assert ans.turns[0].stopped == "time" and time.perf_counter() - t0 < 3.0
    assert up.calls <= 4 and ans.error == "tool_loop_time"


def test_raising_tool_is_a_recorded_error(fake_endpoint):
    up = fake_endpoint(text="Sorry, the lookup failed.")

    @conv.tool({"type": "object", "properties": {"customer_id": {"type": "string"}}})
    def customer_lookup(customer_id: str):
        """Always fails."""
        raise RuntimeError("database down")

    up.chat.tool_calls = [{"name": "customer_lookup", "arguments": {"customer_id": "C001"}}]
    cand = conv.ToolCandidate("fake:m", conv.ToolSet([customer_lookup]), max_steps=2)

    def answer_after_first(*_):  # the tools API: first a tool call, then a plain answer
        up.chat.tool_calls = None

    orig = conv.ToolSet.run
    try:
        conv.ToolSet.run = lambda self, n, a: (answer_after_first(), orig(self, n, a))[1]
        ans = _run(cand)
    finally:
        conv.ToolSet.run = orig
    (turn,) = ans.turns
    (res,) = turn.tool_results
    assert res.error == "RuntimeError: database down" and res.result.startswith("error:")
    assert turn.stopped is None and ans.text == "Sorry, the lookup failed."
    assert up.bodies[1]["messages"][-1] == {"role": "tool", "tool_call_id": "call-0", "content": res.result}
    assert up.bodies[0]["tools"][0]["function"]["name"] == "customer_lookup"
    assert "tool_choice" not in up.bodies[0] and up.bodies[1]["tool_choice"] == "none"  # the last step answers
    from workbench.conversations.metrics import tool_errors, tool_recall

    assert tool_errors(ROW, ans, None) == 1 and tool_recall(ROW, ans, None) == 1.0


def test_a_candidate_is_rebuilt_from_its_logged_params():
    from workbench.candidates import config_from_params, from_config

    cand = conv.ToolCandidate("local", "contoso", name="x", max_steps=3, max_tokens=48)
    params = {k: "" if v is None else str(v) for k, v in cand.config.items()}  # as a LoggedModel holds them
    again = from_config(config_from_params(params), "x")
    assert again.config == cand.config and list(again.tools.by_name) == list(cand.tools.by_name)


def test_tool_matching():
    assert args_match({"query": "TrailLite 2 Tent"}, {"query": "price of the traillite 2 tent"})
    assert not args_match({"order_id": "ORD-1001"}, {"order_id": "ORD-1002"})
    assert not args_match({"order_id": "ORD-1001"}, {})
    r = conv.ToolResult
    turn = conv.Turn(
        user="u",
        tool_results=[
            r("order_status", {"order_id": "ORD-1002"}),
            r("order_status", {"order_id": "ORD-1001"}),
            r("product_search", {"query": "x"}),
        ],
        expected_tool_calls=[{"name": "order_status", "arguments": {"order_id": "ORD-1001"}}],
    )
    assert tool_match([turn]) == {"expected": 1, "name": 1, "arguments": 1, "unnecessary": 2, "made": 3}


def test_sessions_in_mlflow(fake_endpoint, tracking_store):
    """Two candidates on two conversations: one trace per user turn grouped by session, TOOL spans with
    arguments and results, conversation metrics as assessments, LoggedModels with the tools, a paired comparison."""
    import mlflow

    import workbench as wb

    fake_endpoint(text=json.dumps({"answer": "You are in the Gold tier."}))
    ds = conv.load_conversations(CONTOSO).filter(split="dev").head(2)
    tools = conv.ToolCandidate("fake:m", "contoso", name="with-tools", max_steps=2, protocol="json_schema")
    plain = conv.ToolCandidate("fake:m", None, name="no-tools")
    result, sessions = conv.evaluate_conversations(ds, [tools, plain], cache="off", progress=False)
    assert len(sessions.sessions) == 4
    turns = sum(len(turn_expectations(r)) for r in ds.rows)
    traces = mlflow.search_traces(locations=[sessions.experiment_id], return_type="list")
    assert len(traces) == 2 * turns
    by_session = {}
    for t in traces:
        by_session.setdefault(t.info.trace_metadata["mlflow.trace.session"], []).append(t)
    assert {s: len(v) for s, v in by_session.items()} == {s: len(v) for s, v in sessions.sessions.items()}
    first = mlflow.get_trace(next(iter(sessions.sessions.values()))[0])
    session_of = {a.name: (a.metadata or {}).get("mlflow.trace.session") for a in first.info.assessments}
    assert session_of["conversation/goal_completion"] == first.info.trace_metadata["mlflow.trace.session"]
    assert "conversation/steps" in session_of
    from workbench.evaluate.record import candidate_name

    found = mlflow.search_logged_models(experiment_ids=[sessions.experiment_id], output_format="list")
    (model,) = [m for m in found if candidate_name(m) == "with-tools"]
    assert "order_status" in model.params["tools"] and model.params["toolset"] == "contoso"
    cmp = wb.compare(
        result,
        result,
        candidate_a="no-tools",
        candidate_b="with-tools",
        metrics=["conversation/steps"],
        gates=["conversation/steps/mean <= baseline + 10"],
    )
    assert "conversation/steps" in set(cmp.summary()["metric"])
    (gate,) = cmp.gates  # a gate on a conversation-level metric is decided like any other
    assert gate["metric"] == "conversation/steps/mean" and gate["outcome"] in ("pass", "fail", "inconclusive")


def test_session_tool_spans(fake_endpoint, tracking_store):
    import mlflow
    from mlflow.entities import SpanType

    up = fake_endpoint(text="Your order has shipped.", delay_s=0.3)
    up.chat.tool_calls = [{"name": "order_status", "arguments": {"order_id": "ORD-1001"}}]
    orig = conv.ToolSet.run

    def once(self, n, a):
        up.chat.tool_calls = None
        return orig(self, n, a)

    conv.ToolSet.run = once
    try:
        ds = conv.load_conversations(CONTOSO).head(1)
        result, sessions = conv.evaluate_conversations(
            ds, [conv.ToolCandidate("fake:m", "contoso", name="t")], cache="off"
        )
    finally:
        conv.ToolSet.run = orig
    (ids,) = sessions.sessions.values()
    spans = mlflow.get_trace(ids[0]).data.spans
    (tool_span,) = [s for s in spans if s.span_type == SpanType.TOOL]
    assert tool_span.name == "order_status" and tool_span.inputs == {"order_id": "ORD-1001"}
    assert tool_span.outputs["status"] == "shipped"
    row = result.rows.iloc[0]  # the answer against the turn's tool result; the call matched the expected one
    assert 0 <= row["conversation/turn_groundedness"] <= 1 and row["conversation/tool_args_correct"] == 1.0
    # the spans carry the turn's own times (not the logging time): the trace lasts the turn, each step its call
    (turn,) = json.loads(row["conversation/steps.transcript"])
    trace = mlflow.get_trace(ids[0])
    assert trace.info.execution_duration == pytest.approx(1000 * turn["elapsed_s"], abs=2)
    steps = sorted((s for s in spans if s.span_type == SpanType.CHAT_MODEL), key=lambda s: s.start_time_ns)
    assert len(steps) == 2 and all(s.end_time_ns - s.start_time_ns >= 0.3e9 for s in steps)
    assert steps[0].end_time_ns <= tool_span.start_time_ns <= tool_span.end_time_ns <= steps[1].start_time_ns


@pytest.mark.slow
def test_07_conversations_notebook(local_server, tracking_store):
    """End to end on the embedded model: the notebook with its defaults (2 conversations, 2 candidates) through
    `workbench run`: conversation metrics on the run, one trace per user turn grouped by session, every turn
    within the loop's step bound."""
    import mlflow
    from mlflow import MlflowClient

    import workbench as wb

    r = wb.run_notebook(ROOT / "notebooks" / "07_conversations.ipynb", experiment="nb-tests", progress=False)
    assert r.ok, f"{r.error}\n{r.traceback}"
    run = MlflowClient(tracking_store).get_run(r.run_id)
    assert any(k.endswith("conversation/goal_completion/mean") for k in run.data.metrics)
    traces = mlflow.search_traces(locations=[run.info.experiment_id], return_type="list")
    sessions = {t.info.trace_metadata.get("mlflow.trace.session") for t in traces}
    assert None not in sessions and len(sessions) == 4  # 2 conversations x 2 candidates
    steps = [int(t.data.spans[0].attributes["workbench.steps"]) for t in traces]
    assert steps and max(steps) <= 2  # max_steps=2 per user turn


def test_simulated_users_are_seeded_and_recorded(fake_endpoint, tmp_path):
    up = fake_endpoint(text="Where is my order?")
    personas = conv.contoso_personas()[:2]
    sim = conv.simulate(
        personas, conv.ToolCandidate("fake:m", None, name="plain"), user_model="fake:m", turns=2, seed=7, cache="off"
    )
    assert len(sim.rows) == 2 and set(sim.summary()["user_turns"]) == {2}
    seeds = sorted(b["seed"] for b in up.bodies if "seed" in b)
    assert seeds == [7000, 7000, 7001, 7001]  # the user model's sampling seed, per persona and turn
    row = sim.rows[0]
    assert (
        row["tags"]["seed"] == 7
        and row["tags"]["user_model"] == "fake:m"
        and row["tags"]["persona"] == personas[0].name
    )
    assert row["expected_tool_calls"] == personas[0].expected_tool_calls
    ds = conv.load_conversations(sim.save(tmp_path / "sim.jsonl"))  # a conversation set that re-runs
    assert [len(r["messages"]) for r in ds.rows] == [3, 3]


def test_knowledge_retention_screen():
    from workbench.conversations.metrics import knowledge_retention

    def answer(*pairs):
        return conv.ConversationAnswer(text=pairs[-1][1], turns=[conv.Turn(user=u, answer=a) for u, a in pairs])

    good = answer(("I'm customer C004.", "Hello!"), ("Which tier am I?", "Customer C004 is Gold."))
    asks = answer(("I'm customer C004.", "Hello!"), ("Which tier am I?", "Sure. What is your customer number?"))
    wrong = answer(("Where is ORD-1002?", "Checking."), ("And when?", "Order ORD-1003 arrives Monday."))
    assert knowledge_retention({}, good, None) == 1.0
    assert knowledge_retention({}, asks, None) == (0.0, {"problems": "turn 2 asks for the customer id again"})
    assert knowledge_retention({}, wrong, None)[0] == 0.0
    assert knowledge_retention({}, answer(("Hi", "Hello"), ("Tier?", "Gold")), None) is None  # no fact given


def test_a_dataframe_conversation_error_names_the_row():
    import pandas as pd

    df = pd.DataFrame([ROW, {"id": "bad", "messages": [{"role": "assistant", "content": "hi"}]}])
    with pytest.raises(DatasetError, match=r"<dataframe> row 2: messages: the last turn is 'assistant'"):
        conv.load_conversations(df)


def _said(role: str, content: str, **extra) -> dict:
    return {"role": role, "content": content, **extra}


LABELLED = [
    {  # right call, right fact in other words: the goal is met
        "id": "t1",
        "messages": [
            _said("user", "Where is my order ORD-1002?"),
            _said(
                "assistant",
                "Your order has been delivered.",
                tool_calls=[{"name": "order_status", "arguments": {"order_id": "ORD-1002"}}],
            ),
            _said("tool", '{"status": "delivered"}', name="order_status"),
        ],
        "reference": "delivered",
        "expect_refusal": False,
        "expected_tool_calls": [{"name": "order_status", "arguments": {"order_id": "ORD-1002"}}],
        "labels": {"goal_completed": 1, "retention_ok": None, "tool_calls_correct": 1, "unnecessary_calls": 0},
    },
    {  # asks again for the customer number: goal missed, fact forgotten
        "id": "t2",
        "messages": [
            _said("user", "Hi, my customer id is C002."),
            _said("assistant", "Thanks, how can I help?"),
            _said("user", "How many points do I have?"),
            _said("assistant", "Sure. What is your customer number?"),
        ],
        "reference": "1850",
        "expect_refusal": False,
        "expected_tool_calls": [{"name": "customer_lookup", "arguments": {"customer_id": "C002"}}],
        "labels": {"goal_completed": 0, "retention_ok": 0, "tool_calls_correct": 0, "unnecessary_calls": 0},
    },
    {  # another order looked up, plus an unneeded lookup; the labeller says the goal was met (the metric agrees)
        "id": "t3",
        "messages": [
            _said("user", "Status of ORD-1003 please"),
            _said(
                "assistant",
                "It is processing.",
                tool_calls=[
                    {"name": "order_status", "arguments": {"order_id": "ORD-1004"}},
                    {"name": "customer_lookup", "arguments": {"customer_id": "C003"}},
                ],
            ),
            _said("tool", '{"status": "processing"}', name="order_status"),
            _said("tool", '{"tier": "Bronze"}', name="customer_lookup"),
        ],
        "reference": "processing",
        "expect_refusal": False,
        "expected_tool_calls": [{"name": "order_status", "arguments": {"order_id": "ORD-1003"}}],
        "labels": {"goal_completed": 1, "retention_ok": None, "tool_calls_correct": 0, "unnecessary_calls": 1},
    },
]


def test_labelled_transcripts_are_scored_as_the_metrics_read_a_run():
    """benchmarks/bench_conversation_accuracy.py: a written transcript becomes the turns a ToolCandidate records,
    and each metric's verdict is compared with its label (positive = the problem)."""
    import importlib
    import sys

    sys.path.insert(0, str(ROOT / "benchmarks"))
    bench = importlib.import_module("bench_conversation_accuracy")
    m = bench.measure(LABELLED)
    assert (m["goal_completion"]["n"], m["goal_completion"]["accuracy"]) == (3, 1.0)
    assert m["goal_completion"]["accuracy_ci95"][1] == 1.0
    assert (m["knowledge_retention"]["n"], m["knowledge_retention"]["recall"]) == (1, 1.0)
    assert m["knowledge_retention"]["not_compared"] == {"metric_only": 0, "label_only": 0}
    assert m["tool_args_correct"]["n"] == 3 and m["tool_args_correct"]["accuracy"] == 1.0
    assert m["unnecessary_calls"]["accuracy"] == 1.0 and m["unnecessary_calls"]["recall"] == 1.0
