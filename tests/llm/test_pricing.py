"""Price table and offline token counting."""

import re

import pytest

from workbench.config import load_settings
from workbench.llm.pricing import cost_usd, count_tokens, price_table, training_price


def test_table_has_date_and_source():
    t = price_table()
    assert t["date"] and t["sources"] and t["models"]["gpt-4o-mini"]["input"] > 0


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


# --- issue 16, item 5: current prices, exact names, fine-tuned rates, unpriced is a warning --------------


def test_every_row_has_a_source_and_a_date():
    t = price_table()
    for table in ("models", "finetuned"):
        for name, row in t[table].items():
            assert row["source"] in t["sources"], name
            assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["as_of"]) and row["as_of"] <= t["date"], name
            assert row["input"] >= 0 and row["output"] >= 0, name


@pytest.mark.parametrize(
    "model,inp,out",
    [
        ("gpt-5", 1.25, 10.0),
        ("gpt-5-mini", 0.25, 2.0),
        ("gpt-5-nano-2025-08-07", 0.05, 0.40),
        ("o1", 15.0, 60.0),
        ("o3-mini", 1.10, 4.40),
        ("o3-pro", 20.0, 80.0),
        ("o3-mini-2025-01-31", 1.10, 4.40),
        ("gpt-4", 30.0, 60.0),
        ("gpt-4o-2024-05-13", 5.0, 15.0),
        ("gpt-4o-2024-08-06", 2.5, 10.0),
        # fine-tuned models at their fine-tuned rates (they were priced at the base's list price before)
        ("ft:gpt-4o-mini-2024-07-18:acme::abc123", 0.30, 1.20),
        ("ft:gpt-4.1-nano-2025-04-14:acme:faq:x1", 0.20, 0.80),
    ],
)
def test_current_prices_match_exact_names(project_dir, model, inp, out):
    ep = load_settings().endpoints["openai"]
    assert cost_usd(ep, model, 1_000_000, 0) == pytest.approx(inp)
    assert cost_usd(ep, model, 0, 1_000_000) == pytest.approx(out)


def test_no_prefix_fallback_and_unpriced_is_a_warning(project_dir):
    from workbench.llm.pricing import UnpricedModelWarning, format_usd, is_priced

    ep = load_settings().endpoints["openai"]
    for model in ("gpt-4o-2099-01-01", "o3-mini-high", "ft:davinci-002:acme::x", "gpt-5-mini-turbo"):
        with pytest.warns(UnpricedModelWarning, match="unpriced"):
            assert cost_usd(ep, model, 10, 10) is None
        assert not is_priced(ep, model)
    assert is_priced(ep, "gpt-5-mini")
    assert format_usd(None) == "unpriced" and format_usd(0.0123) == "$0.0123"
    assert training_price("gpt-4o-mini") == training_price("gpt-4o-mini-2024-07-18") == 3.0
    assert training_price("o4-mini") is None


def test_workbench_eval_shows_unpriced_not_zero(workbench_toml, tracking_store, tmp_path, monkeypatch):
    from types import SimpleNamespace

    import pandas as pd

    from workbench import governance as card
    from workbench.evaluate import runner
    from workbench.evaluate.cli import run_eval_cli

    workbench_toml('[endpoints.unp]\nbase_url = "http://127.0.0.1:9/v1"\nmodels = ["m1"]\n')
    summary = pd.DataFrame(
        [
            {"metric": "cost/usd/total", "value": None, "ci_low": None, "ci_high": None, "n": 0},
            {"metric": "quality/f1/mean", "value": 0.5, "ci_low": 0.4, "ci_high": 0.6, "n": 3},
        ]
    )
    fake = SimpleNamespace(
        summary=lambda: summary,
        headline=lambda: "3 of 3 rows answered",
        rows=pd.DataFrame({"id": [1, 2, 3]}),
        computed_rows=3,
        duration_s=1.0,
        spent_usd=0.0,
        stopped=None,
    )  # what a run with no price reported
    monkeypatch.setattr(runner, "evaluate", lambda *a, **kw: fake)
    monkeypatch.setattr(card, "govern_run", lambda rid, **kw: SimpleNamespace(error=None))
    ds = tmp_path / "qa.jsonl"
    ds.write_text('{"id": "1", "question": "q", "reference": "r"}\n')
    out = []
    assert run_eval_cli(str(ds), "unp:m1", experiment="unpriced", echo=out.append) == 0
    text = "\n".join(out)
    assert "spent unpriced" in text and "$0.0000" not in text
    assert any("cost/usd/total" in line and "unpriced" in line for line in text.splitlines())
