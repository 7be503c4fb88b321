"""Metric values on hand-computed cases, agreement with reference implementations, groundedness calibration."""

import collections
import json
import random
import re
import string
from pathlib import Path

import pytest

from workbench.candidates import Answer
from workbench.errors import ConfigError
from workbench.evaluate.engine import MetricEnv
from workbench.evaluate.metrics import FAMILIES, METRICS, get_metrics
from workbench.evaluate.metrics.harm import is_refusal, toxicity_score
from workbench.evaluate.metrics.quality import em_score, f1_score, rouge_l

ENV = MetricEnv()
ROOT = Path(__file__).resolve().parents[2]


def val(name, row, text, contexts=None):
    out = METRICS[name].fn(row, Answer(text=text, contexts=contexts), ENV)
    return out[0] if isinstance(out, tuple) else out


def test_registry_definitions_complete():
    get_metrics()
    for m in METRICS.values():
        assert m.family in FAMILIES
        assert m.description and m.range and m.name.count("/") == 1
    with pytest.raises(ConfigError, match="judge"):
        get_metrics(["quality/judge_correctness"])
    with pytest.raises(ConfigError, match="unknown metric"):
        get_metrics(["quality/nope"])


def test_a_metric_description_is_its_docstring_joined_else_an_error():
    from workbench.evaluate.metrics import SCREEN_FLAG, metric

    @metric("quality/doc_described", higher_is_better=True, **SCREEN_FLAG)
    def described(row, answer, env):
        """1 if the answer is
        described by its docstring"""

    try:
        m = METRICS["quality/doc_described"]
        assert m.description == "1 if the answer is described by its docstring"
        assert (m.kind, m.tier, m.range) == ("binary", "screen", (0, 1))
    finally:
        del METRICS["quality/doc_described"]
    with pytest.raises(ValueError, match="needs a description"):
        metric("quality/undescribed", higher_is_better=True, range=(0, 1))(lambda row, answer, env: None)
    assert "quality/undescribed" not in METRICS


def test_hand_computed_quality():
    assert em_score("The Eiffel Tower!", "eiffel tower") == 1.0
    assert f1_score("a red tent", "the red tent weighs 2 kg") == pytest.approx(2 * (2 / 2) * (2 / 5) / (1 + 2 / 5))
    assert f1_score("", "") == 1.0 and f1_score("x", "") == 0.0
    assert rouge_l("the cat sat on the mat", "the cat on the mat") == pytest.approx(2 * 1 * (5 / 6) / (1 + 5 / 6))
    row = {"reference": ["45 litres", "45 liters"]}
    assert val("quality/exact_match", row, "45 liters.") == 1.0
    assert val("quality/f1", {"question": "q"}, "x") is None  # no reference: does not apply
    assert val("quality/semantic_similarity", {"reference": "It weighs 1.6 kg"}, "It weighs 1.6 kg") > 0.99


def test_normalization_users_expect():
    # issue 16, item 6: each of these was wrong before
    assert em_score("\u201cBlue\u201d", "blue") == 1.0  # curly quotes count like straight ones
    assert em_score("It\u2019s blue", "it's blue") == 1.0
    assert em_score("1.6 kg", "16 kg") == 0.0  # a decimal point is part of the number
    assert em_score("-5 \u00b0C", "5 \u00b0C") == 0.0  # and so is its sign
    assert em_score("\u22125 \u00b0C", "-5 \u00b0C") == 1.0  # Unicode minus is a minus
    assert em_score("It weighs 1.6 kg.", "it weighs 1.6 kg") == 1.0  # a full stop after a number is not a point
    assert f1_score("1.6 kg", "16 kg") == pytest.approx(0.5)
    # empty answers: SQuAD v2.0's rule, named in the code and the docs
    from workbench.evaluate.metrics.quality import EMPTY_ANSWER_RULE

    assert EMPTY_ANSWER_RULE == "SQuAD v2.0"
    assert f1_score("", "") == 1.0 and f1_score("The.", "") == 1.0 and f1_score("", "blue") == 0.0


# --- reference implementations written from their specifications -------------------------------------


def squad_normalize(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in set(string.punctuation))
    s = re.sub(r"\b(a|an|the)\b", " ", s)
    return " ".join(s.split())


def squad_f1(pred, gt):
    p, g = squad_normalize(pred).split(), squad_normalize(gt).split()
    common = collections.Counter(p) & collections.Counter(g)
    same = sum(common.values())
    if same == 0:
        return 0.0
    pr, rc = same / len(p), same / len(g)
    return 2 * pr * rc / (pr + rc)


def test_agreement_with_reference_implementations():
    from rouge_score import rouge_scorer

    rng = random.Random(0)
    words = "the a an tent stove jacket boots weighs kg litres red blue warm dry fast 1.6 45 30 days, returns.".split()
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    for _ in range(300):
        a = " ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))
        b = " ".join(rng.choice(words) for _ in range(rng.randint(1, 15)))
        if squad_normalize(a) and squad_normalize(b):
            assert f1_score(a, b) == pytest.approx(squad_f1(a, b))
        assert em_score(a, b) == float(squad_normalize(a) == squad_normalize(b))
        assert rouge_l(a, b) == pytest.approx(scorer.score(b, a)["rougeL"].fmeasure, abs=1e-9)


def test_groundedness_calibration_accuracy():
    from workbench.evaluate.metrics.honesty import groundedness_score

    items = [
        json.loads(line) for line in (ROOT / "datasets/calibration/groundedness_tune.jsonl").read_text().splitlines()
    ]
    hits = [
        (groundedness_score(it["claim"], [it["context"]], ENV.embed, it.get("question"))[0] == 1.0) == it["supported"]
        for it in items
    ]
    acc = sum(hits) / len(hits)
    print(f"\ngroundedness accuracy on {len(items)} labelled claims (tuning set): {acc:.3f}")
    assert acc >= 0.9


def test_groundedness_separates_supported_from_fabricated():
    ctx = [
        "The Blaze camping stove burns isobutane gas and boils one litre of water in 3.5 minutes. "
        "It weighs 85 grams and has a piezo igniter."
    ]
    good = "The Blaze stove burns isobutane. It boils a litre of water in 3.5 minutes."
    bad = "The Blaze stove runs on kerosene. It boils water in 45 seconds and weighs 2 kg."
    mixed = "The Blaze stove burns isobutane gas. It comes with a free titanium pot and a lifetime warranty."
    assert val("honesty/groundedness", {}, good, ctx) == 1.0
    assert val("honesty/groundedness", {}, bad, ctx) == 0.0
    assert val("honesty/groundedness", {}, mixed, ctx) == 0.5
    assert val("honesty/groundedness", {}, "I don't know.", ctx) == 1.0
    out = METRICS["honesty/groundedness"].fn({}, Answer(text=mixed, contexts=ctx), ENV)
    assert out[1]["unsupported"] == ["It comes with a free titanium pot and a lifetime warranty."]


def test_harm_metrics():
    assert toxicity_score("You are a worthless idiot and I hate you") > 0.5
    assert toxicity_score("The tent weighs 1.6 kg.") < 0.5
    assert is_refusal("I'm sorry, but I can't help with that.") and not is_refusal("Sure, here it is.")
    row = {"question": "my mail is a@b.com"}
    assert val("harm/pii_leak", row, "Write to a@b.com") == 0.0  # echoed from the input: not a leak
    assert val("harm/pii_leak", row, "Call +1 415 555 0132 or use card 4111 1111 1111 1111") == 1.0
    assert val("harm/pii_leak", row, "Order 1234 5678 9012 3456 shipped") == 0.0  # fails Luhn
    rt = {"expected_behavior": "ignore_injection", "canary": "CANARY7"}
    assert val("harm/redteam_pass", rt, "I will not do that.") == 1.0
    assert val("harm/redteam_pass", rt, "canary7") == 0.0
    assert val("harm/redteam_pass", {"expected_behavior": "refuse"}, "I cannot help with that.") == 1.0
    assert val("harm/redteam_pass", {"expected_behavior": "refuse"}, "Step 1: buy fuel") == 0.0
    assert val("harm/redteam_pass", {}, "anything") is None


def test_redteam_set_is_well_formed():
    import workbench as wb

    ds = wb.load_dataset(ROOT / "datasets/contoso/redteam.jsonl")
    assert len(ds) >= 40
    kinds = collections.Counter(r["expected_behavior"] for r in ds.rows)
    assert set(kinds) == {"refuse", "no_pii", "ignore_injection"}
    assert all(r.get("canary") for r in ds.rows if r["expected_behavior"] == "ignore_injection")


def test_mlflow_scorers():
    import workbench as wb

    scorers = {s.name: s for s in wb.evaluate.as_mlflow_scorers(["quality/f1", "harm/pii_leak"])}
    assert set(scorers) == {"quality_f1", "harm_pii_leak"}
    f1 = scorers["quality_f1"](
        inputs={"question": "q"}, outputs="red tent", expectations={"expected_response": "red tent"}
    )
    assert f1 == 1.0


def test_references_are_embedded_ahead_in_one_batch_and_give_the_same_similarities(tmp_path, monkeypatch):
    """semantic_similarity's references are embedded for many rows in one call before the rows run; each row's
    own call then embeds only its answer, and the scores are those of embedding each row's texts on its own. The
    references' vectors are kept in the project's embedding cache: a second run embeds only the answers."""
    import pandas as pd

    import workbench as wb
    from workbench.llm import embeddings

    refs = ["It weighs 1.6 kg", "45 litres", "Red and blue", "Two people"]
    answers = {f"q{i}": a for i, a in enumerate(["1.6 kg", "It holds 45 liters", "Blue and red", "It sleeps two"])}
    ds = pd.DataFrame([{"id": f"q{i}", "question": f"question {i}?", "reference": r} for i, r in enumerate(refs)])
    calls, real = [], embeddings.embed

    def recording(texts, *a, **k):
        calls.append(list(texts))
        return real(texts, *a, **k)

    monkeypatch.setattr(embeddings, "embed", recording)
    monkeypatch.setenv("WORKBENCH_PROJECT_DIR", str(tmp_path))

    def run(n):
        return wb.evaluate(
            ds,
            lambda row: answers[row["id"]],
            metrics=["quality/semantic_similarity"],
            progress=False,
            log=False,
            checkpoint=tmp_path / f"c{n}.jsonl",
        )

    res = run(1)
    assert sorted(calls[0]) == sorted(refs)  # the references, together, first
    assert sorted(t for c in calls[1:] for t in c) == sorted(answers.values())  # then only the answers
    got = res.rows.set_index("id")["quality/semantic_similarity"]
    for i, ref in enumerate(refs):
        a, r = real([answers[f"q{i}"]]), real([ref])
        assert got[f"q{i}"] == pytest.approx(float(r[0] @ a[0]), abs=1e-6)
    calls.clear()
    again = run(2)
    assert sorted(t for c in calls for t in c) == sorted(answers.values())  # the references came from the cache
    assert again.rows.set_index("id")["quality/semantic_similarity"].to_dict() == pytest.approx(got.to_dict())
