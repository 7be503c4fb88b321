"""What you evaluate is what you serve: a candidate is rebuilt from its recorded configuration by one function
(``candidates.from_config``), and the served app answers through the candidate's own ``aanswer``."""

from __future__ import annotations

import json
from pathlib import Path

import openai
import pytest

import workbench as wb
from workbench import serve
from workbench.candidates import PromptCandidate, config_from_params, from_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from workbench import rag

    out = tmp_path_factory.mktemp("idx") / "idx"
    rag.index_corpus(ROOT / "datasets/contoso/manuals", chunk_size=128, out_dir=out)
    return out


def _flat(config: dict) -> dict:
    from workbench.evaluate.record import _flat_params

    return _flat_params(config)


def test_every_candidate_setting_survives_the_round_trip_through_logged_params(index_dir):
    """Regression: serving kept only index, retriever, top_k, mmr and prompt, dropping rerank, query_rewrite,
    fetch_k and generation params such as top_p."""
    from workbench.rag import RAGPipeline

    cands = [
        PromptCandidate("local", system_prompt=None, template="Q: {question}", max_tokens=9, top_p=0.5, name="p"),
        RAGPipeline(
            index_dir,
            top_k=3,
            retriever="dense",
            mmr=True,
            rerank="overlap",
            query_rewrite="llm",
            fetch_k=9,
            system_prompt=None,
            prompt="C: {contexts} Q: {question}",
            max_tokens=17,
            top_p=0.9,
            name="r",
        ),
    ]
    for c in cands:
        back = from_config(config_from_params(_flat(c.config)), c.name)
        assert type(back) is type(c) and back.config == c.config
    from workbench.serve.config import _from_candidate

    app_cfg = _from_candidate(config_from_params(_flat(cands[1].config)), "r", "test")
    assert from_config(app_cfg.candidate_config(), "r").config == cands[1].config


def test_yaml_rag_settings_reach_the_served_candidate(index_dir, tmp_path):
    """A config file's rag block takes the same settings as RAGPipeline (rerank, query_rewrite, fetch_k)."""
    f = tmp_path / "app.yaml"
    f.write_text(
        f"name: y\nrag: {{index: {index_dir}, top_k: 2, rerank: overlap, query_rewrite: keywords, "
        f"fetch_k: 6}}\nparams: {{max_tokens: 5}}\n"
    )
    c = from_config(serve.load_config(f).candidate_config(), "y")
    assert (c.retriever.rerank, c.config["query_rewrite"], c.config["fetch_k"], c.top_k) == (
        "overlap",
        "keywords",
        6,
        2,
    )
    assert c.gen_params["max_tokens"] == 5


def test_a_rebuilt_index_is_refused(index_dir):
    from workbench.errors import ConfigError
    from workbench.rag import RAGPipeline

    cfg = {**RAGPipeline(index_dir).config, "corpus_hash": "0" * 16}
    with pytest.raises(ConfigError, match="not the one evaluated"):
        from_config(cfg, "r")
    with pytest.raises(Exception, match="callable"):
        from_config({"kind": "callable"})


@pytest.mark.slow
def test_served_rag_candidate_answers_as_it_was_evaluated(solo_model, tracking_store, index_dir, tmp_path):
    """Evaluate a RAG candidate with rerank, an LLM query rewrite and fetch_k; serve it from its LoggedModel and
    from ``--from-run``: the same retrieved documents and the same answers at temperature 0, cache off."""
    import mlflow

    from workbench.rag import RAGPipeline

    rows = [json.loads(x) for x in (ROOT / "datasets/contoso/qa.jsonl").read_text().splitlines()[:3]]
    ds = tmp_path / "qa.jsonl"
    ds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cand = RAGPipeline(
        index_dir,
        model=solo_model,
        top_k=3,
        rerank="overlap",
        query_rewrite="llm",
        fetch_k=8,
        max_tokens=24,
        name="rag-served",
    )
    rid = wb.tracking.client().create_run(wb.tracking.experiment_id("evals")).info.run_id
    res = wb.evaluate(ds, [cand], metrics=["quality/f1"], run_id=rid, cache="off", concurrency=1, progress=False)
    evaluated = {r["id"]: (r["answer"], list(r["retrieved"])) for r in res.rows.to_dict(orient="records")}
    assert not res.rows["error"].notna().any()
    [model] = [
        m
        for m in mlflow.search_logged_models(experiment_ids=[wb.tracking.experiment_id("evals")], output_format="list")
        if m.tags.get("workbench.candidate") == "rag-served"  # the model's name says what it is: rag-served-hybrid...
    ]
    for cfg in (serve.config_from_model(model.model_id), serve.config_from_run(rid)):
        assert cfg.candidate["rerank"] == "overlap" and cfg.candidate["query_rewrite"] == "llm"
        with serve.start(cfg) as h:
            client = openai.OpenAI(base_url=h.base_url, api_key="x", max_retries=0)
            for r in rows:
                out = client.chat.completions.create(
                    model="app", temperature=0, messages=[{"role": "user", "content": r["question"]}]
                )
                docs = [c.split("#")[0] for c in out.model_extra["workbench"]["chunk_ids"]]
                assert (out.choices[0].message.content, docs) == evaluated[r["id"]], (cfg.source, r["id"])
