"""Round-3 secret probes (issue 33): an upstream or metric error text quoting the key, a key in a candidate's extra
headers, a scan that only read artifacts, a database password on the `mlflow server` command line, and monitor
webhooks with credentials. Fake endpoints on 127.0.0.1; no model needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import workbench as wb
from evalkit import write_dataset
from fakes.openai_server import KEY, Chat, OpenAIServer
from fakes.webhook import WebhookReceiver
from workbench import tags as T

LITERAL = "hdr-" + "Zq8" * 12  # a key written into a candidate's headers, not in the environment


def _store_bytes(uri: str) -> bytes:
    """Every byte of a sqlite tracking store (the file and its write-ahead log)."""
    db = Path(uri.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal")) if p.exists())


@pytest.fixture
def auth_upstream(upstream, monkeypatch, tmp_path):
    upstream.chat.mode = "auth"  # a 401 whose message quotes the key, as OpenAI's does
    monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(tmp_path / "cache.db"))
    return upstream


def test_an_upstream_error_quoting_the_key_never_reaches_the_store(auth_upstream, tracking_store, tmp_path):
    """Regression: the 401 text was stored as each row trace's Feedback error (the assessments table) while the
    scan said "passed"."""
    from workbench.evaluate.cli import run_eval_cli

    run_eval_cli(str(write_dataset(tmp_path / "qa.jsonl", n=3)), "fake:m", metrics=["quality/f1"], echo=lambda *_: None)
    c = wb.tracking.client()
    run = c.search_runs([wb.tracking.experiment_id()])[0]
    traces = c.search_traces(locations=[run.info.experiment_id], run_id=run.info.run_id)
    errors = [a.error.error_message for t in traces for a in t.info.assessments if a.error]
    assert len(traces) == 3 and errors and all("***" in e for e in errors), errors
    assert KEY.encode() not in _store_bytes(tracking_store)
    assert "passed" in run.data.tags[T.SECRET_SCAN]


def test_a_metric_error_quoting_the_key_is_scrubbed(tracking_store, monkeypatch, tmp_path):
    """Regression: a metric whose own call failed with a 401 (a moderation endpoint) left the key in the
    Feedback error and its rationale."""
    from workbench.candidates import CallableCandidate
    from workbench.evaluate.metrics import METRICS, metric

    monkeypatch.setenv("MODERATION_API_KEY", KEY)

    @metric(
        "harm/probe_moderation",
        higher_is_better=False,
        range=(0, 1),
        description="raises like a moderation call answering 401",
    )
    def probe(row, answer, env):
        raise RuntimeError(f"Error code: 401 - Incorrect API key provided: {KEY}")

    try:
        res = wb.evaluate(
            write_dataset(tmp_path / "qa.jsonl", n=2),
            [CallableCandidate(lambda row: "ok")],
            metrics=["harm/probe_moderation"],
            progress=False,
        )
    finally:
        METRICS.pop("harm/probe_moderation", None)
    assert KEY not in res.rows.to_json()
    assert KEY.encode() not in _store_bytes(tracking_store)


def _plant_everywhere(tmp_path, monkeypatch):
    """A run whose trace span, trace assessment, LoggedModel params and the response cache hold the key, written
    past every scrubber (as an older version or another tool would have)."""
    import mlflow

    from workbench.llm.cache import get_cache

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(tmp_path / "cache.db"))
    c = wb.tracking.client()
    exp = wb.tracking.experiment_id()
    rid = c.create_run(exp).info.run_id
    wb.tracing.route_to(exp)  # this test's store (an earlier evaluation in this process routed elsewhere)
    mlflow.tracing.configure(span_processors=[])  # no scrubbing processor: the store gets the raw text
    with mlflow.start_run(run_id=rid):
        with mlflow.start_span("leaky") as span:
            span.set_attribute("upstream.error", f"401 {KEY}")
            tid = span.trace_id
    mlflow.flush_trace_async_logging(terminate=False)
    mlflow.log_feedback(trace_id=tid, name="quality/f1", value=0.0, rationale=f"bad key {KEY}")
    c.create_logged_model(exp, name="cand", source_run_id=rid, params={"extra_headers": f"{{'k': '{KEY}'}}"})
    get_cache(tmp_path / "cache.db").put("k1", {"text": f"echo {KEY}"})
    return rid


def test_the_scan_reads_traces_assessments_logged_models_and_the_cache(tracking_store, tmp_path, monkeypatch):
    """Regression: the scan read params, tags and artifacts only, so a key in any of these said "passed"."""
    from workbench.governance import govern_run, scan_run

    rid = _plant_everywhere(tmp_path, monkeypatch)
    hits = scan_run(rid).hits
    for where in ("span 'leaky'", "assessment 'quality/f1'", "LoggedModel cand", "response cache"):
        assert any(where in h for h in hits), (where, hits)
    gov = govern_run(rid)
    assert gov.error and wb.tracking.client().get_run(rid).data.tags[T.SECRET_SCAN].startswith("FAILED")
    assert KEY not in gov.error
    assert KEY.encode() not in (tmp_path / "cache.db").read_bytes()  # the leaked cache record was removed


def test_spans_are_scrubbed_of_the_environments_keys(tracking_store, monkeypatch):
    """Attributes and recorded exceptions of any span (redaction off) lose the key before export."""
    import mlflow

    from workbench import tracing

    monkeypatch.setenv("SOME_SERVICE_TOKEN", KEY)
    tracing.route_to(wb.tracking.experiment_id())
    tracing.install()
    with pytest.raises(RuntimeError):
        with mlflow.start_span("call") as span:
            span.set_attribute("workbench.error", f"upstream said {KEY}")
            span.set_inputs({"note": f"key={KEY}"})
            tid = span.trace_id
            raise RuntimeError(f"401 for key {KEY}")
    mlflow.flush_trace_async_logging(terminate=False)
    trace = wb.tracking.client().get_trace(tid)
    text = trace.to_json()
    assert KEY not in text and "***" in text


@pytest.mark.parametrize(
    "key",
    ["plain-" + "k3y" * 6, 'quo"te-' + "k3y" * 6, "back\\slash-" + "k3y" * 6, "ünïcode-" + "k3y" * 6],
    ids=["plain", "quote", "backslash", "non-ascii"],
)
def test_span_inputs_and_outputs_lose_a_key_json_would_escape(tracking_store, monkeypatch, key):
    """The scrubber skips decoding a span's inputs and outputs when their JSON text holds no key; a key that JSON
    shows escaped (a quote, a backslash, non-ASCII) must still be found in the values themselves."""
    import mlflow

    from workbench import tracing

    monkeypatch.setenv("ODD_SERVICE_API_KEY", key)
    tracing.route_to(wb.tracking.experiment_id())
    tracing.install()
    with mlflow.start_span("call") as span:
        span.set_inputs({"messages": [{"role": "user", "content": f"my key is {key}"}]})
        span.set_outputs(f"echo {key}")
        tid = span.trace_id
    mlflow.flush_trace_async_logging(terminate=False)
    span = wb.tracking.client().get_trace(tid).data.spans[0]
    assert key not in json.dumps(span.inputs, ensure_ascii=False) and "***" in span.inputs["messages"][0]["content"]
    assert span.outputs == "echo ***"


def test_a_key_set_or_named_after_the_first_scrub_is_scrubbed(monkeypatch, tmp_path):
    """The secret values are remembered between calls (every span asks) only while the environment and
    ``workbench.toml`` stay as they were."""
    from workbench.secrets import scrub

    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(tmp_path))
    assert scrub("late-" + "x" * 20) == "late-" + "x" * 20
    monkeypatch.setenv("LATE_API_KEY", "late-" + "x" * 20)
    assert scrub("late-" + "x" * 20) == "***"
    monkeypatch.setenv("PLAIN_LOOKING", "plainvalue-123456")
    assert scrub("plainvalue-123456") == "plainvalue-123456"
    (tmp_path / "workbench.toml").write_text('[secrets]\nnames = ["PLAIN_LOOKING"]\n')
    assert scrub("plainvalue-123456") == "***"


def test_a_key_in_extra_headers_stays_out_of_params_spans_and_cache(tracking_store, monkeypatch, tmp_path):
    """Regression: extra_headers={"X-Api-Key": ...} was copied into the LoggedModel params, the run params, the
    call spans and the cached record."""
    from workbench.candidates import PromptCandidate

    up = OpenAIServer(Chat("fine"))
    try:
        monkeypatch.setenv("WORKBENCH_LOCAL_BASE_URL", up.url)
        monkeypatch.setenv("WORKBENCH_RESPONSE_CACHE", str(tmp_path / "cache.db"))
        wb.tracing.enable()
        cand = PromptCandidate(
            "local", extra_headers={"X-Api-Key": LITERAL, "Authorization": f"Bearer {LITERAL}"}, name="hdr"
        )
        res = wb.evaluate(write_dataset(tmp_path / "qa.jsonl", n=2), [cand], metrics=["quality/f1"], progress=False)
        assert res.computed_rows == 2 and up.calls == 2
    finally:
        wb.tracing.reset()
        up.stop()
    c = wb.tracking.client()
    models = c.search_logged_models([wb.tracking.experiment_id()])
    assert models and all(LITERAL not in json.dumps(m.params) for m in models)
    assert LITERAL.encode() not in _store_bytes(tracking_store)
    assert LITERAL.encode() not in (tmp_path / "cache.db").read_bytes()


def test_server_start_keeps_the_database_password_off_the_command_line():
    """Regression: `workbench server start --db postgresql://u:PW@...` put the URI on `mlflow server`'s argv,
    readable by every local user through `ps`."""
    from workbench.tracking_ui import lean_server_command

    uri = "postgresql+psycopg2://wb:S3cretPassw0rd@127.0.0.1:5432/mlflow"
    cmd, env = lean_server_command(uri, "127.0.0.1", 5000, ["--serve-artifacts"])
    assert not any("S3cretPassw0rd" in a for a in cmd), cmd
    assert env["MLFLOW_BACKEND_STORE_URI"] == uri


@pytest.fixture
def hook():
    """The port of a webhook that refuses everything (404), to make the notifier report a failure."""
    h = WebhookReceiver(status=404)
    yield h.port
    h.stop()


def _rules(tmp_path, webhook) -> Path:
    import yaml

    p = tmp_path / "rules.yaml"
    p.write_text(
        yaml.safe_dump(
            {
                "experiment": "app-x",
                "cooldown": "0s",
                "notify": [{"webhook": webhook}],
                "rules": [{"name": "errors", "metric": "error_rate", "window": "1m", "op": ">", "threshold": 0.5}],
            }
        )
    )
    return p


def _fire(rules_path, tmp_path):
    import pandas as pd

    from workbench.monitor.rules import Monitor, load_rules

    mon = Monitor(load_rules(rules_path), state_dir=tmp_path / "state")
    t0 = pd.Timestamp("2026-01-01", tz="UTC")
    df = pd.DataFrame([{"time": t0 + pd.Timedelta(seconds=s), "error": True, "latency_s": 1.0} for s in range(5)])
    assert mon.evaluate(df, t0 + pd.Timedelta(seconds=10)) and mon.history_path.exists()
    return mon.history_path.read_text()


def test_webhook_credentials_are_masked_on_stderr_and_in_the_history(hook, tmp_path, caplog):
    """Regression: a failing webhook printed and stored its URL with the password and the token."""
    url = f"http://alerts:Pa55w0rdPa55@127.0.0.1:{hook}/hook?token=tok-{'9' * 20}&team=ops"
    with caplog.at_level("WARNING", logger="workbench.monitor"):
        history = _fire(_rules(tmp_path, url), tmp_path)
    shown = history + caplog.text
    assert "notify_errors" in history and "404" in history, history
    assert "Pa55w0rdPa55" not in shown and "tok-9999" not in shown, shown


def test_webhook_secrets_come_from_the_environment(hook, tmp_path, monkeypatch, caplog):
    """Regression: a webhook's URL and headers could only be written literally into the rules YAML; now
    ${NAME} is read from the environment, refused when unset, and masked wherever a failure is shown."""
    from workbench.errors import ConfigError
    from workbench.monitor.rules import load_rules

    monkeypatch.setenv("ALERT_HOOK_URL", f"http://127.0.0.1:{hook}/hooks/T0/B0/shh{'x' * 16}")
    monkeypatch.delenv("ALERT_SIG", raising=False)
    with pytest.raises(ConfigError, match=r"ALERT_SIG"):
        load_rules(_rules(tmp_path, {"url": "${ALERT_HOOK_URL}", "headers": {"X-Signature": "${ALERT_SIG}"}}))
    monkeypatch.setenv("ALERT_SIG", "sig-" + "7" * 20)
    with caplog.at_level("WARNING", logger="workbench.monitor"):
        history = _fire(
            _rules(tmp_path, {"url": "${ALERT_HOOK_URL}", "headers": {"X-Signature": "${ALERT_SIG}"}}), tmp_path
        )
    assert "404" in history and "shh" + "x" * 16 not in history + caplog.text
    assert "sig-7777" not in history + caplog.text
