"""Configuration: endpoints, aliases, and one-line errors that say what to fix."""

import pytest

import workbench as wb
from workbench.config import load_settings
from workbench.errors import ConfigError


def test_builtin_endpoints_and_default_model(project_dir):
    s = load_settings()
    assert {"local", "openai", "azure"} <= set(s.endpoints)
    ep, model = s.resolve_model("local")
    assert (ep.name, model) == ("local", "smollm2")
    ep, model = s.resolve_model("openai:gpt-4o")
    assert (ep.name, model) == ("openai", "gpt-4o")


def test_unknown_endpoint_is_one_line_with_fix(project_dir):
    with pytest.raises(ConfigError) as e:
        wb.chat("hi", model="nosuch:model")
    msg = str(e.value)
    assert "\n" not in msg and "unknown endpoint 'nosuch'" in msg and "workbench.toml" in msg


def test_missing_key_names_the_variable(project_dir, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError) as e:
        wb.chat("hi", model="openai:gpt-4o-mini", cache="off")
    assert "OPENAI_API_KEY" in str(e.value) and "\n" not in str(e.value)


def test_toml_endpoint_alias_and_prices(workbench_toml):
    workbench_toml("""
[endpoints.mine]
base_url = "http://127.0.0.1:9/v1"
api_key_env = "MINE_KEY"
models = ["m1", "m2"]
max_concurrency = 3
[endpoints.mine.prices."m1"]
input = 1.0
output = 2.0
[aliases]
fast = "mine:m2"
""")
    s = load_settings()
    ep, model = s.resolve_model("fast")
    assert (ep.name, model, ep.max_concurrency) == ("mine", "m2", 3)
    assert s.resolve_model("mine")[1] == "m1"
    from workbench.llm.pricing import cost_usd

    assert cost_usd(ep, "m1", 1_000_000, 500_000) == pytest.approx(2.0)


def test_toml_refuses_inline_keys(workbench_toml):
    workbench_toml('[endpoints.bad]\nbase_url = "http://127.0.0.1:9/v1"\napi_key = "secret"\n')
    with pytest.raises(ConfigError, match="api_key_env"):
        load_settings()


def test_toml_syntax_error_names_file(workbench_toml):
    path = workbench_toml("[endpoints.x\n")
    with pytest.raises(ConfigError, match=str(path)):
        load_settings()


def test_unreachable_base_url_is_an_error_record(workbench_toml, monkeypatch):
    from workbench.procs import free_port

    monkeypatch.setenv("DEAD_KEY", "k")
    workbench_toml(
        f'[endpoints.dead]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\napi_key_env = "DEAD_KEY"\n'
        f'models = ["x"]\ntimeout_s = 2\n'
    )
    r = wb.chat("hi", model="dead", cache="off", max_retries=1)
    assert not r.ok and r.error == "connection" and r.attempts == 2
    assert "\n" not in r.error_message
