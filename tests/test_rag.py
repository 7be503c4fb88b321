"""RAG: chunkers, index round trip, HNSW recall, retrieval metrics, and end to end on the corpus."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import workbench as wb
from workbench import rag
from workbench.errors import WorkbenchError
from workbench.rag.chunking import token_spans
from workbench.rag.index import make_faiss
from workbench.rag.metrics import context_precision, mrr, ndcg_at_k, precision_at_k, recall_at_k

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "datasets/contoso/manuals"
BIN = Path(sys.executable).parent / "workbench"


def test_recursive_chunks_merge_sections_up_to_size_and_keep_the_common_heading_path():
    text = "# Guide\n\nIntro line.\n\n## Fuel\nUse isobutane.\n\n### Cold\nWarm the canister.\n\n## Care\nDry it.\n"
    heads = [(text.index(h), h.count("#"), h.strip("# ")) for h in ("# Guide", "## Fuel", "### Cold", "## Care")]
    doc = rag.Document("g", "g.md", "Guide", text, "markdown", rag.loaders._sections_from_headings(text, heads))
    big = rag.chunk_documents([doc], "recursive", chunk_size=128)
    assert len(big) == 1 and big[0].heading_path == "Guide" and big[0].text == text.strip()
    small = rag.chunk_documents([doc], "recursive", chunk_size=10, overlap=2)
    cold = next(c for c in small if "Warm the canister" in c.text)
    assert cold.heading_path == "Guide > Fuel > Cold" and cold.context_text.startswith("Guide > Fuel > Cold")
    for c in small:
        assert doc.text[c.start:c.end] == c.text and c.n_tokens <= 10


def test_fixed_chunks_overlap_exactly_and_respect_size():
    text = " ".join(f"word{i}" for i in range(500))
    doc = rag.Document("d", "d.txt", "d", text, "text", [])
    chunks = rag.chunk_documents([doc], "fixed", chunk_size=50, overlap=10)
    assert all(c.n_tokens <= 50 for c in chunks) and len(chunks) > 5
    spans = token_spans(text)
    starts = [next(i for i, s in enumerate(spans) if s[0] == c.start) for c in chunks]
    assert all(b - a == 40 for a, b in zip(starts, starts[1:]))  # step = size - overlap
    assert chunks[-1].end == len(text)
    with pytest.raises(WorkbenchError):
        rag.chunk_documents([doc], "fixed", chunk_size=50, overlap=50)


def test_index_round_trip_and_embedding_reuse(tmp_path, project_dir):
    idx, path = rag.index_corpus(CORPUS, chunk_size=128, out_dir=tmp_path / "idx")
    again, _ = rag.index_corpus(CORPUS, chunk_size=128, out_dir=tmp_path / "idx2")
    assert again.config["embedded_now"] == 0  # every vector came from the cache
    loaded = rag.VectorIndex.load(path)
    q = idx.embed_query(["How heavy is the Summit 65 backpack?", "return policy"])
    s1, i1 = idx.search(q, 10)
    s2, i2 = loaded.search(q, 10)
    assert (i1 == i2).all() and np.allclose(s1, s2)
    assert [h.chunk.chunk_id for h in rag.Retriever(loaded, "hybrid", 5).retrieve("Summit 65 weight")] == \
           [h.chunk.chunk_id for h in rag.Retriever(idx, "hybrid", 5).retrieve("Summit 65 weight")]
    (path / "vectors.npy").unlink()
    with pytest.raises(WorkbenchError, match="rebuild"):
        rag.VectorIndex.load(path)


def test_hnsw_recall_vs_exact_on_20k_vectors():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(200, 384))
    x = centers[rng.integers(0, 200, 20_000)] + 0.6 * rng.normal(size=(20_000, 384))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    q = x[rng.choice(20_000, 200, replace=False)] + 0.05 * rng.normal(size=(200, 384)).astype(np.float32)
    q = (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)
    _, exact = make_faiss(x, "flat").search(q, 10)
    _, approx = make_faiss(x, "hnsw").search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    print(f"\nHNSW recall@10 vs exact on 20k x 384: {recall:.4f}")
    assert recall >= 0.95


def test_retrieval_metrics_hand_computed():
    gold = {"a", "b"}
    ranked = ["x", "a", "y", "b"]
    assert recall_at_k(gold, ranked) == 1.0 and recall_at_k(gold, ranked[:2]) == 0.5
    assert precision_at_k(gold, ranked) == 0.5
    assert mrr(gold, ranked) == 0.5 and mrr(gold, ["x"]) == 0.0
    ideal = 1 + 1 / np.log2(3)
    assert ndcg_at_k(gold, ranked) == pytest.approx((1 / np.log2(3) + 1 / np.log2(5)) / ideal)
    assert context_precision(gold, ranked) == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert ndcg_at_k({"a"}, ["a", "a"]) == 1.0  # a document counts once


RECALL5_FLOOR = 0.9  # measured 1.0 for dense, bm25 and hybrid (questions name the product); margin for tweaks


@pytest.mark.slow
def test_recall_at_5_per_retriever_on_dev_split(tmp_path, project_dir):
    idx, _ = rag.index_corpus(CORPUS, chunk_size=128, out_dir=tmp_path / "idx")
    dev = [r for r in wb.load_dataset(ROOT / "datasets/contoso/qa.jsonl").filter(split="dev").rows if r["gold_doc_ids"]]
    recalls = {}
    for kind in ("dense", "bm25", "hybrid"):
        r = rag.Retriever(idx, kind, 5)
        recalls[kind] = float(np.mean([recall_at_k(set(row["gold_doc_ids"]),
                                                   [h.chunk.doc_id for h in r.retrieve(row["question"])]) for row in dev]))
    print(f"\nrecall@5 on {len(dev)} answerable dev questions: {recalls}")
    assert recalls["hybrid"] >= RECALL5_FLOOR and min(recalls.values()) >= 0.8


@pytest.mark.slow
def test_rag_pipeline_as_candidate_end_to_end(local_server, tmp_path):
    idx, _ = rag.index_corpus(CORPUS, chunk_size=128, out_dir=tmp_path / "idx")
    qa = wb.load_dataset(ROOT / "datasets/contoso/qa.jsonl").filter(split="dev")
    qa = wb.load_dataset(qa.df.head(16), name="dev16")
    pipe = rag.RAGPipeline(idx, "local", top_k=4, retriever="hybrid", max_tokens=48)
    res = wb.evaluate(qa, [pipe], log=False, progress=False)
    s = res.summary().set_index("metric")["value"]
    assert s["retrieval/recall_at_k/mean"] >= RECALL5_FLOOR
    assert 0 <= s["honesty/groundedness/mean"] <= 1 and s["run/error_rate"] == 0
    assert res.rows["retrieved"].map(len).eq(4).all()
    one = pipe.answer("How much does the Summit 65 backpack weigh?")
    assert one.text and "pack-summit-65" in one.doc_ids and len(one.contexts) == 4


@pytest.mark.slow
def test_rag_notebook_runs_headless(local_server, tracking_store):
    out = subprocess.run([str(BIN), "run", str(ROOT / "notebooks/02_rag.ipynb"), "-p", "top_k", "4", "-p", "max_rows",
                          "8", "-p", "max_tokens", "32", "-q", "--experiment", "rag"], capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rid = re.search(r"^run ([0-9a-f]{32}): FINISHED", out.stdout, re.M).group(1)
    from mlflow import MlflowClient

    c = MlflowClient(tracking_store)
    run = c.get_run(rid)
    for k in ("retrieval/recall_at_k/mean", "retrieval/mrr/mean", "quality/f1/mean", "honesty/groundedness/mean",
              "latency/ttft_s/p95", "rag/chunks"):
        assert k in run.data.metrics, k
    assert run.data.params["top_k"] == "4" and run.data.params["rag.chunker"] == "recursive"
    assert {"index/index.faiss", "index/chunks.parquet", "index/config.json", "index/vectors.npy"} <= \
           {a.path for a in c.list_artifacts(rid, "index")}
