"""Fine-tuning: data validation rules, preparation, the OpenAI job flow (local fake), local LoRA end to end."""

import importlib.util
import json
from pathlib import Path

import pytest

import workbench as wb
from fakes.openai_server import FineTuning, OpenAIServer
from workbench.finetune import examples_from_corpus, remove_contaminated, split_examples, validate_file, write_jsonl

ROOT = Path(__file__).resolve().parents[2]
GOOD = {
    "messages": [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
    ]
}

BAD_LINES = {
    "invalid_json": '{"messages": [',
    "not_an_object": "[1, 2]",
    "unknown_key": json.dumps({**GOOD, "extra": 1}),
    "missing_messages": '{"prompt": "x"}',
    "messages_not_list": '{"messages": "hi"}',
    "message_not_object": '{"messages": ["hi", {"role": "assistant", "content": "x"}]}',
    "missing_role": '{"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]}',
    "unknown_role": '{"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}',
    "unknown_message_key": '{"messages": [{"role": "user", "content": "x", "mood": 1}, {"role": "assistant", "content": "y"}]}',
    "bad_content_type": '{"messages": [{"role": "user", "content": 5}, {"role": "assistant", "content": "y"}]}',
    "empty_content": '{"messages": [{"role": "user", "content": "  "}, {"role": "assistant", "content": "y"}]}',
    "no_assistant": '{"messages": [{"role": "user", "content": "x"}]}',
    "bad_weight": '{"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "y", "weight": 2}]}',
}


@pytest.mark.parametrize("rule", sorted(BAD_LINES))
def test_each_rule_is_caught_on_its_line(tmp_path, rule):
    p = tmp_path / "train.jsonl"
    p.write_text(json.dumps(GOOD) + "\n" + json.dumps(GOOD).replace("2+2", "3+3") + "\n" + BAD_LINES[rule] + "\n")
    rep = validate_file(p)
    assert not rep.ok
    assert (3, rule) in [(f.line, f.rule) for f in rep.errors], rep.render()
    assert all(f.line == 3 for f in rep.errors)
    assert f"{p}:3: {rule}:" in rep.render()


def test_too_many_tokens_duplicates_and_clean_file(tmp_path):
    p = tmp_path / "t.jsonl"
    long = {"messages": [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]}
    p.write_text(json.dumps(GOOD) + "\n" + json.dumps(long) + "\n" + json.dumps(GOOD) + "\n")
    rep = validate_file(p, max_tokens=100)
    assert [(f.line, f.rule) for f in rep.errors] == [(2, "too_many_tokens")]
    assert [(w.line, w.rule) for w in rep.warnings] == [(3, "duplicate")]
    clean = tmp_path / "c.jsonl"
    write_jsonl([GOOD], clean)
    rep = validate_file(clean)
    assert rep.ok and rep.examples == 1 and rep.stats()["openai_cost_usd"] > 0 and "OK" in rep.render()


def test_contamination_is_loud_with_lines(tmp_path):
    qa = wb.load_dataset(ROOT / "datasets/contoso/qa.jsonl")
    test_q = next(r for r in qa.rows if r["split"] == "test")["question"]
    dev_q = next(r for r in qa.rows if r["split"] == "dev" and r["gold_doc_ids"])["question"]
    rows = [
        GOOD,
        {"messages": [{"role": "user", "content": test_q}, {"role": "assistant", "content": "x"}]},
        {
            "messages": [
                {"role": "user", "content": test_q.rstrip("?") + " please?"},
                {"role": "assistant", "content": "x"},
            ]
        },
        {"messages": [{"role": "user", "content": dev_q}, {"role": "assistant", "content": "x"}]},
    ]
    p = write_jsonl(rows, tmp_path / "t.jsonl")
    rep = validate_file(p, test_set=ROOT / "datasets/contoso/qa.jsonl")
    assert not rep.ok and [w.line for w in rep.contaminated] == [2, 3]
    assert "CONTAMINATION: 2" in rep.render()
    kept, dropped = remove_contaminated(rows, ROOT / "datasets/contoso/qa.jsonl")
    assert dropped == 2 and len(kept) == 2


def test_prepare_from_corpus_and_split():
    ex = examples_from_corpus(ROOT / "datasets/contoso/manuals", phrasings=2)
    assert len(ex) > 300
    assert all(e["messages"][-1]["role"] == "assistant" for e in ex)
    assert any("1.62 kg" in e["messages"][-1]["content"] for e in ex)
    train, val = split_examples(ex, 0.1, seed=1)
    assert len(val) == round(len(ex) * 0.1) and len(train) + len(val) == len(ex)
    assert split_examples(ex, 0.1, seed=1) == (train, val)


@pytest.fixture
def fake_ft(workbench_toml, monkeypatch):
    servers = []

    def make(outcome="succeed", polls=3):
        s = OpenAIServer(finetune=FineTuning(outcome, polls))
        servers.append(s)
        monkeypatch.setenv("FAKE_OPENAI_KEY", "k-test")
        workbench_toml(
            f'[endpoints.fakeai]\nbase_url = "{s.base_url}"\napi_key_env = "FAKE_OPENAI_KEY"\n'
            f'models = ["gpt-4o-mini-2024-07-18"]\n'
        )
        return s

    yield make
    for s in servers:
        s.stop()


def _train_file(tmp_path):
    return write_jsonl(
        [
            GOOD,
            {"messages": [{"role": "user", "content": "Capital of Peru?"}, {"role": "assistant", "content": "Lima"}]},
        ],
        tmp_path / "train.jsonl",
    )


def test_openai_job_success_logs_events_and_registers_model(fake_ft, tmp_path, tracking_store):
    from mlflow import MlflowClient

    from workbench.finetune.openai_job import run_job

    fake = fake_ft("succeed", polls=3)
    res = run_job(_train_file(tmp_path), endpoint="fakeai", poll_s=0.01, echo=lambda *_: None)
    assert res.status == "succeeded" and res.model == "fakeai:ft:gpt-4o-mini-2024-07-18:contoso::ftjob-1"
    assert len(fake.files) == 1 and fake.jobs["ftjob-1"]["req"]["method"]["type"] == "supervised"
    assert "ft:gpt-4o-mini-2024-07-18:contoso::ftjob-1" in wb.load_settings().endpoints["fakeai"].models
    run = MlflowClient(tracking_store).get_run(wb.tracking.current_run_id())
    assert run.data.tags["workbench.ft.status"] == "succeeded" and "ft/train_loss" in run.data.metrics
    assert any(e["type"] == "metrics" for e in res.events)


def test_openai_job_failure_and_cancel(fake_ft, tmp_path, monkeypatch):
    from workbench.finetune import openai_job

    fake_ft("fail", polls=2)
    res = openai_job.run_job(
        _train_file(tmp_path), endpoint="fakeai", poll_s=0.01, log_mlflow=False, echo=lambda *_: None
    )
    assert res.status == "failed" and "training file invalid" in res.error and res.model is None
    hang = fake_ft("hang")
    calls = {"n": 0}

    def interrupt(_s):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(openai_job.time, "sleep", interrupt)
    res = openai_job.run_job(_train_file(tmp_path), endpoint="fakeai", log_mlflow=False, echo=lambda *_: None)
    assert res.status == "cancelled" and hang.jobs["ftjob-1"]["status"] == "cancelled"
    assert ("POST", "/v1/fine_tuning/jobs/ftjob-1/cancel") in hang.requests


def test_openai_job_budget_checked_before_upload(fake_ft, tmp_path):
    from workbench.finetune.openai_job import BudgetExceeded, run_job

    fake = fake_ft()
    with pytest.raises(BudgetExceeded, match="nothing was uploaded"):
        run_job(_train_file(tmp_path), endpoint="fakeai", budget_usd=0.0, log_mlflow=False)
    assert fake.files == [] and fake.requests == []


def test_openai_job_settings_reach_the_job_and_unknown_options_are_refused(fake_ft, tmp_path):
    """Issue 32: the hyperparameters are a JobSettings and the waiting a Polling; keyword spellings still work and
    a typo is refused before anything is uploaded."""
    from workbench.errors import UnknownOption
    from workbench.finetune.openai_job import JobSettings, run_job

    fake = fake_ft("succeed", polls=1)
    with pytest.raises(UnknownOption, match="run_job.*'pol_s'.*poll_s"):
        run_job(_train_file(tmp_path), endpoint="fakeai", pol_s=0.01, log_mlflow=False)
    assert fake.requests == []
    res = run_job(
        _train_file(tmp_path),
        endpoint="fakeai",
        job_settings=JobSettings(epochs=2, suffix="contoso"),
        seed=7,
        poll_s=0.01,
        log_mlflow=False,
        echo=lambda *_: None,
    )
    req = fake.jobs[res.job_id]["req"]
    assert res.status == "succeeded" and req["suffix"] == "contoso" and req["seed"] == 7
    assert req["method"]["supervised"]["hyperparameters"]["n_epochs"] == 2


HAS_EXTRA = all(importlib.util.find_spec(m) for m in ("torch", "transformers", "peft"))
needs_extra = pytest.mark.skipif(
    not HAS_EXTRA, reason="the [finetune] extra (torch, transformers, peft) is not installed; `make test` installs it"
)

FACTS = [
    ("How much does the Zorblax 9 tent weigh?", "The Zorblax 9 tent weighs 3.14 kg."),
    ("What colour is the Quindle jacket?", "The Quindle jacket is teal."),
    ("How many litres does the Vumbo pack hold?", "The Vumbo pack holds 37 litres."),
]


@pytest.mark.slow
@needs_extra
def test_lora_learns_invented_facts_and_is_served(local_server, tmp_path):
    from workbench.finetune.local_lora import train_lora

    ex = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]} for q, a in FACTS] * 8
    train = write_jsonl(ex, tmp_path / "facts.jsonl")
    res = train_lora(
        train, steps=30, lr=1e-3, batch_size=8, log_mlflow=False, progress=False, name="ft-testfacts", reuse=False
    )
    assert res.gguf_path.is_file() and res.losses[-1] < res.losses[0] / 3
    assert res.model == "local:ft-testfacts" and "ft-testfacts" in _local_models()
    # a client that calls the shared server by URL and names no adapter (MLflow's AI Gateway): the base model.
    # Regression: the server-wide adapter scales started at 1.0, so it got the adapter (first, on fresh slots)
    import openai

    from workbench.llm.endpoints import kind_of

    ep = wb.load_settings().endpoints["local"]
    url = kind_of(ep).target(ep, "ft-testfacts").base_url
    raw = openai.OpenAI(base_url=url, api_key="none")
    plain = [
        raw.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": q}], max_tokens=20, temperature=0
        )
        .choices[0]
        .message.content
        for q, _ in FACTS
    ]
    base = [wb.chat(q, model="local", max_tokens=20, temperature=0, cache="off").text for q, _ in FACTS]
    tuned = [wb.chat(q, model=res.model, max_tokens=20, temperature=0, cache="off").text for q, _ in FACTS]
    print(f"\ntuned: {tuned}\nbase:  {base}\nplain: {plain}")
    assert "3.14" in tuned[0] and "teal" in tuned[1].lower() and "37" in tuned[2]
    assert "3.14" not in base[0] and "teal" not in base[1].lower()
    assert plain == base


def _local_models() -> list[str]:
    from workbench.llm.endpoints import kind_of

    ep = wb.load_settings().endpoints["local"]
    return kind_of(ep).models(ep)


@pytest.mark.parametrize("prefix", [[], [1, 2, 3]], ids=["no-shared-prefix", "shared-system-prompt"])
def test_answer_loss_is_the_models_loss_and_gradient(prefix):
    """The training loop's loss applies the output layer only where a label is set, and runs a prefix every row
    shares once: the same loss and the same LoRA gradients as the model's own ``labels=`` loss, on a small random
    Llama (tied embeddings like SmolLM2), with padding and prompt positions in the batch."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    from workbench.finetune.local_lora import TARGET_MODULES, _collate, answer_loss, shared_prefix

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, tie_word_embeddings=True,
    )  # fmt: skip
    model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(r=4, lora_alpha=8, target_modules=TARGET_MODULES))
    for n, p in model.named_parameters():  # LoRA's B starts at 0: make the adapter matter
        if "lora_B" in n:
            torch.nn.init.normal_(p, std=0.1)
    batch = [
        ([5, 6, 7, 8, 9, 10, 11], [-100, -100, -100, -100, 9, 10, 11]),
        ([12, 13, 14, 15], [-100, -100, 14, 15]),
        ([16, 17, 18, 19, 20], [-100, -100, -100, -100, 20]),
    ]
    batch = [(prefix + x, [-100] * len(prefix) + y) for x, y in batch]
    ids, mask, labels = _collate(batch, pad_id=0)
    assert shared_prefix(ids, mask, labels) == len(prefix)

    def grads(loss):
        model.zero_grad()
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    ref = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    ref_g = grads(ref)
    ours = answer_loss(model, ids, mask, labels)
    ours_g = grads(ours)
    assert torch.allclose(ours, ref, atol=1e-5), (float(ours), float(ref))
    assert ref_g.keys() == ours_g.keys() and all(torch.allclose(ours_g[k], ref_g[k], atol=1e-5) for k in ref_g)
    # an answer label it reads: changing it changes the loss
    other = labels.clone()
    other[0, 4] = 3
    assert not torch.allclose(answer_loss(model, ids, mask, other), ours)


def test_length_grouped_batches_see_every_example_once_per_epoch_with_less_padding():
    """``_batches`` sorts each run of GROUP batches by length: one epoch still holds every example exactly once,
    and the batches are padded less than in plain random order (seed-fixed lengths 10-80)."""
    import random

    from workbench.finetune.local_lora import GROUP, _batches

    rng = random.Random(1)
    examples = [([i] * rng.randint(10, 80), []) for i in range(200)]
    per_epoch = 25  # 200 examples / batch 8

    def epoch(group):
        gen = _batches(examples, 8, random.Random(0), group=group)
        return [next(gen) for _ in range(per_epoch)]

    grouped, plain = epoch(GROUP), epoch(1)
    assert sorted(x[0][0] for b in grouped for x in b) == list(range(200))
    padded = [sum(max(len(x[0]) for x in b) * len(b) for b in e) for e in (grouped, plain)]
    assert padded[0] < 0.9 * padded[1], padded
