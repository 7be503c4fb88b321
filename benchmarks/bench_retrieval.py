"""Retrieval quality per configuration, retrieval at 20k chunks, and embedding throughput.

1. Quality (``--part quality``): recall@k, MRR and nDCG@k with 95% bootstrap CIs, overall and per question kind,
   for dense, bm25, hybrid, hybrid+overlap and hybrid+sentence rerankers at two chunkings (recursive 64 and 256
   tokens), on the held-out *test* split of the hard set (``datasets/contoso/hard.jsonl``; the rerankers were
   developed on its dev split); paired differences (b − a, 95% CI) say which gaps the data supports. The easy
   set (``qa.jsonl``, every question names its product) is measured too, as the baseline that could not tell
   configurations apart.
2. Index build time and query latency p50/p95 for N chunks (default 20,000; Contoso chunks repeated with
   variations): exact (IndexFlatIP) vs HNSW; recall@10 of HNSW against exact.
3. Embedding throughput of workbench.llm.embeddings vs onnxruntime called directly on the same batches.

    .venv/bin/python benchmarks/bench_retrieval.py [--part quality,index] [--k 4] [--chunks 20000] [--queries 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save

ROOT = Path(__file__).resolve().parents[1]


CONFIGS = {
    "dense": {"kind": "dense"},
    "bm25": {"kind": "bm25"},
    "hybrid": {"kind": "hybrid"},
    "hybrid+overlap": {"kind": "hybrid", "rerank": "overlap"},
    "hybrid+sentence": {"kind": "hybrid", "rerank": "sentence"},
}
CHUNKINGS = [("recursive", 64), ("recursive", 256)]
PAIRS = [
    ("dense", "bm25"),
    ("dense", "hybrid"),
    ("hybrid", "hybrid+overlap"),
    ("bm25", "hybrid+overlap"),
    ("hybrid", "hybrid+sentence"),
]


def quality(k: int) -> dict:
    import pandas as pd

    import workbench as wb
    from workbench import rag

    pd.set_option("display.width", 200)
    hard = wb.load_dataset(ROOT / "datasets/contoso/hard.jsonl").filter(split="test").rows
    easy = wb.load_dataset(ROOT / "datasets/contoso/qa.jsonl").filter(split="test").rows
    out: dict = {"k": k, "split": "test", "configs": list(CONFIGS), "chunkings": {}}
    evals = {}
    for chunker, size in CHUNKINGS:
        name = f"{chunker}-{size}"
        index, _ = rag.index_corpus(
            ROOT / "datasets/contoso/manuals", chunker=chunker, chunk_size=size, overlap=16, progress=False
        )
        t0 = time.perf_counter()
        ev = rag.evaluate_retrieval(index, hard, CONFIGS, k=k)
        dt = time.perf_counter() - t0
        base = rag.evaluate_retrieval(index, easy, CONFIGS, k=k)
        print(
            f"\n== hard test split, {name} ({len(index)} chunks), k={k}, "
            f"{ev.rows['id'].nunique()} answerable questions, {dt:.1f}s for {len(CONFIGS)} configs"
        )
        for metric in ("recall_at_k", "mrr", "ndcg_at_k"):
            print(f"-- {metric}\n{ev.table(metric).to_string()}")
        easy_tab = base.summary(by_kind=False).pivot(index="config", columns="metric", values="mean")
        print(f"-- easy set (qa.jsonl test), means\n{easy_tab.round(3).to_string()}")
        diffs = [ev.compare(a, b, m) for a, b in PAIRS for m in ("recall_at_k", "mrr")]
        print("-- paired differences (b - a), 95% CI")
        for d in diffs:
            print(
                f"   {d['metric']:<12} {d['b']:>16} - {d['a']:<16} {d['diff']:+.3f} [{d['ci_low']:+.3f}, "
                f"{d['ci_high']:+.3f}] {'supported' if d['supported'] else 'not supported'}"
            )
        out["chunkings"][name] = {
            "chunks": len(index),
            "summary": ev.summary().to_dict(orient="records"),
            "easy_summary": base.summary(by_kind=False).to_dict(orient="records"),
            "paired": diffs,
            "eval_s": dt,
        }
        evals[name] = ev
    # the same configuration at the two chunkings, paired over the same questions
    (a_name, a), (b_name, b) = evals.items()
    both = rag.RetrievalEval(
        pd.concat(
            [a.rows.assign(config=a.rows.config + "@" + a_name), b.rows.assign(config=b.rows.config + "@" + b_name)]
        ),
        k,
        [],
    )
    print(f"-- chunking: {b_name} - {a_name}, paired, 95% CI")
    out["chunking_paired"] = []
    for cfg in CONFIGS:
        for kind in (None, "multi_hop", "paraphrase"):
            d = both.compare(f"{cfg}@{a_name}", f"{cfg}@{b_name}", "ndcg_at_k", kind)
            out["chunking_paired"].append(d)
            print(
                f"   ndcg_at_k {cfg:<16} {d['kind']:<11} {d['diff']:+.3f} [{d['ci_low']:+.3f}, {d['ci_high']:+.3f}] "
                f"{'supported' if d['supported'] else 'not supported'}"
            )
    return out


def answers(best: str, worst: str, chunking: str, rows: int, max_tokens: int) -> dict:
    """Answer-level quality of the best and the worst retrieval configuration on the hard test split (the local
    model): token F1, groundedness, abstention on unanswerable questions; paired F1 difference with a CI."""
    import workbench as wb
    from workbench import rag
    from workbench.evaluate.stats import PairedDifference
    from workbench.llm.local import ensure_server

    ensure_server()
    chunker, size = chunking.rsplit("-", 1)
    index, _ = rag.index_corpus(
        ROOT / "datasets/contoso/manuals", chunker=chunker, chunk_size=int(size), overlap=16, progress=False
    )
    test = wb.load_dataset(ROOT / "datasets/contoso/hard.jsonl").filter(split="test")
    # a seeded sample, so every question kind is in it (the file is ordered by kind)
    ds = (
        wb.load_dataset(test.df.sample(n=rows, random_state=0), name=f"hard-test-sample{rows}")
        if rows and rows < len(test.df)
        else test
    )
    pipes = [
        rag.RAGPipeline(
            index,
            "local",
            top_k=4,
            name=name,
            max_tokens=max_tokens,
            **{"retriever": CONFIGS[name]["kind"], "rerank": CONFIGS[name].get("rerank")},
        )
        for name in (best, worst)
    ]
    t0 = time.perf_counter()
    res = wb.evaluate(
        ds,
        pipes,
        metrics=["quality/f1", "honesty/groundedness", "honesty/abstention", "retrieval/recall_at_k"],
        log=False,
        progress=False,
    )
    dt = time.perf_counter() - t0
    s = res.summary()
    s = s[s.metric.str.endswith("/mean")][["candidate", "metric", "value", "ci_low", "ci_high", "n"]]
    print(
        f"\n== answers on {len(ds)} hard test questions, {chunking}, local model, {dt:.0f}s\n{s.to_string(index=False)}"
    )
    r = res.rows
    un = r[r["id"].isin([x["id"] for x in ds.rows if not x["gold_doc_ids"]])]
    abst = {c: float(un[un.candidate == c]["honesty/abstention"].mean()) for c in (best, worst)}
    print(f"abstention on the {un['id'].nunique()} unanswerable rows: {abst}")
    diffs = {}
    for m in ("quality/f1", "honesty/groundedness"):
        t = r.pivot_table(index="id", columns="candidate", values=m)
        pd_ = PairedDifference((t[best] - t[worst]).dropna(), value_range=(-1.0, 1.0))  # both metrics in [0, 1]
        d = diffs[m] = (pd_.mean, *pd_.interval())
        print(f"paired {m} {best} - {worst}: {d[0]:+.3f} [{d[1]:+.3f}, {d[2]:+.3f}] (n={len(t.dropna())})")
    return {
        "rows": len(ds),
        "chunking": chunking,
        "summary": s.to_dict(orient="records"),
        "abstention": abst,
        "paired": diffs,
        "seconds": dt,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--part",
        default="quality,index",
        help="comma list: quality, index (index + embedding), answers (needs the local model)",
    )
    ap.add_argument("--best", default="hybrid+overlap", help="answers: the best configuration (from quality)")
    ap.add_argument("--worst", default="dense", help="answers: the worst configuration")
    ap.add_argument("--answer-chunking", default="recursive-256")
    ap.add_argument("--answer-rows", type=int, default=60, help="answers: first N hard test questions (0: all)")
    ap.add_argument("--max-tokens", type=int, default=48)
    ap.add_argument("--k", type=int, default=4, help="chunks retrieved per question (recall@k, nDCG@k)")
    ap.add_argument("--chunks", type=int, default=2_000 if quick() else 20_000)
    ap.add_argument("--queries", type=int, default=20 if quick() else 200)
    ap.add_argument("--embed-texts", type=int, default=100 if quick() else 2000)
    a = ap.parse_args()
    os.environ.setdefault("WORKBENCH_PROJECT_DIR", tempfile.mkdtemp(prefix="wb-bench-ret-"))
    parts = set(a.part.split(","))
    if "quality" in parts:
        save("retrieval_quality", quality(a.k))
    if "answers" in parts:
        save("retrieval_answers", answers(a.best, a.worst, a.answer_chunking, a.answer_rows, a.max_tokens))
    if "index" not in parts:
        return
    import onnxruntime as ort

    import workbench as wb
    from workbench import rag
    from workbench.llm.embeddings import MiniLMEmbedder
    from workbench.rag.index import make_faiss

    base = rag.chunk_documents(rag.load_documents(ROOT / "datasets/contoso/manuals"), chunk_size=128)
    texts = [f"{base[i % len(base)].context_text} (edition {i // len(base)})" for i in range(a.chunks)]
    emb = MiniLMEmbedder()
    t0 = time.perf_counter()
    emb.embed(texts[: a.embed_texts])
    t_ours = time.perf_counter() - t0
    # onnxruntime directly on the same batches (same tokenizer output), pooling in numpy
    sess = ort.InferenceSession(str(emb.session._model_path), providers=["CPUExecutionProvider"])
    t0 = time.perf_counter()
    for i in range(0, a.embed_texts, emb.batch_size):
        enc = emb.tokenizer.encode_batch(texts[i : i + emb.batch_size])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in emb._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        h = sess.run(None, feeds)[0]
        (h * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
    t_raw = time.perf_counter() - t0
    print(
        f"embedding {a.embed_texts} chunks: workbench {a.embed_texts / t_ours:.0f} texts/s, onnxruntime direct "
        f"{a.embed_texts / t_raw:.0f} texts/s (ratio {t_ours / t_raw:.2f})"
    )

    # 20k vectors: embed the distinct base chunks once, add small noise per copy (embedding 20k texts would
    # take minutes on 2 cores and measure the embedder, not the index)
    bv = emb.embed([c.context_text for c in base])
    rng = np.random.default_rng(0)
    x = bv[np.arange(a.chunks) % len(base)] + 0.02 * rng.normal(size=(a.chunks, bv.shape[1])).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    qa = [r["question"] for r in wb.load_dataset(ROOT / "datasets/contoso/qa.jsonl").rows][: a.queries]
    q = emb.embed(qa)
    res, out = (
        {},
        {
            "embed_texts_per_s": {
                "workbench": a.embed_texts / t_ours,
                "onnxruntime": a.embed_texts / t_raw,
                "ratio_time": t_ours / t_raw,
            },
            "chunks": a.chunks,
        },
    )
    for kind in ("flat", "hnsw"):
        t0 = time.perf_counter()
        index = make_faiss(x, kind)
        build = time.perf_counter() - t0
        lat = []
        ids = []
        for v in q:
            t0 = time.perf_counter()
            _, i = index.search(v[None, :], 10)
            lat.append(time.perf_counter() - t0)
            ids.append(i[0])
        res[kind] = ids
        out[kind] = {
            "build_s": build,
            "query_p50_ms": float(np.percentile(lat, 50) * 1e3),
            "query_p95_ms": float(np.percentile(lat, 95) * 1e3),
        }
        print(
            f"{kind:>4}: {a.chunks} chunks, build {build:.2f}s, query p50 {np.percentile(lat, 50) * 1e3:.3f} ms, "
            f"p95 {np.percentile(lat, 95) * 1e3:.3f} ms"
        )
    rec = np.mean([len(set(h) & set(e)) / 10 for h, e in zip(res["hnsw"], res["flat"], strict=True)])
    print(f"HNSW recall@10 vs exact: {rec:.4f}")
    out["hnsw_recall_at_10"] = float(rec)
    save("retrieval", out)


if __name__ == "__main__":
    main()
