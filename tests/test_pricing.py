"""Price table and offline token counting."""

import pytest

from workbench.config import load_settings
from workbench.llm.pricing import cost_usd, count_tokens, price_table, training_price


def test_table_has_date_and_source():
    t = price_table()
    assert t["date"] and t["source"] and t["models"]["gpt-4o-mini"]["input"] > 0


def test_cost_of_known_and_snapshot_models(project_dir):
    ep = load_settings().endpoints["openai"]
    assert cost_usd(ep, "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert cost_usd(ep, "gpt-4o-mini-2024-07-18", 1000, 0) == pytest.approx(0.00015)
    assert cost_usd(ep, "unknown-model", 10, 10) is None
    assert cost_usd(load_settings().endpoints["local"], "smollm2", 10**6, 10**6) == 0.0
    assert training_price("gpt-4o-mini") > 0


def test_toml_price_override(workbench_toml):
    workbench_toml('[prices."gpt-4o-mini"]\ninput = 1.0\noutput = 1.0\n')
    ep = load_settings().endpoints["openai"]
    assert cost_usd(ep, "gpt-4o-mini", 1_000_000, 0) == pytest.approx(1.0)


def test_offline_counts_and_accuracy_flags():
    assert count_tokens("hello world", "gpt-4") == (2, "exact")
    n, acc = count_tokens("hello world", "gpt-4o-mini")
    assert acc == "approx" and n == 2
    assert count_tokens("x" * 40, "some-llama")[1] == "rough"
