"""The shared fake OpenAI-compatible server (tests/fakes/openai_server.py) speaks what the workbench's client reads:
logprobs in OpenAI's shape, faults without an upstream, and an unknown option is an error, not a silent no-op."""

import math

import pytest

from fakes.openai_server import Chat, Faults, OpenAIServer
from workbench.evaluate.judge import yes_no_probability
from workbench.llm.client import LLMClient, run_sync


def test_logprobs_reach_the_yes_no_judge(workbench_toml):
    up = OpenAIServer(Chat("Yes", logprobs=[{"Yes": math.log(0.8), "No": math.log(0.2)}]))
    try:
        workbench_toml(up.toml(key_env=None))
        rec = run_sync(
            LLMClient(cache="off").achat("Is it?", "fake:m", max_tokens=1, logprobs=True, top_logprobs=2, stream=False)
        )
        assert rec.ok and rec.text == "Yes", rec
        v = yes_no_probability(rec.top_logprobs)
        assert v.ok and abs(v.p_yes - 0.8) < 1e-9, v
        assert up.bodies[-1]["logprobs"] is True
    finally:
        up.stop()


def test_scripted_faults_without_an_upstream_are_retried(workbench_toml):
    up = OpenAIServer(Chat("fine"), Faults(script=["429", "503", "badjson"], retry_after=0.05))
    try:
        workbench_toml(up.toml(key_env=None))
        rec = run_sync(LLMClient(cache="off", max_retries=3, backoff_base_s=0.01).achat("Hi", "fake:m", max_tokens=4))
        assert rec.ok and rec.text == "fine" and rec.attempts == 4, rec
        assert [f for _, f in up.log] == ["429", "503", "badjson", "ok"] and up.calls == 1
    finally:
        up.stop()


def test_an_old_fakes_attribute_is_an_error():
    up = OpenAIServer()
    try:
        with pytest.raises(AttributeError):
            up.mode = "auth"  # the option lives on up.chat
        assert up.url.startswith("http://127.0.0.1:")
    finally:
        up.stop()
