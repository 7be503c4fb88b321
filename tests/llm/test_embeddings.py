"""The offline MiniLM embedder: shapes, dtype, similarity structure, hash checks."""

import numpy as np
import pytest

import workbench as wb
from workbench.errors import SetupError
from workbench.llm.assets import MINILM_ONNX, WheelAsset, asset_path


def test_shape_dtype_and_norm():
    v = wb.embed(["a tent", "a stove", "boots"])
    assert v.shape == (3, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert wb.embed([]).shape == (0, 384)


def test_paraphrases_close_unrelated_far():
    a, b, c = wb.embed(
        [
            "How do I return a tent I bought?",
            "How do I return a tent that I bought?",
            "The stock market fell sharply on Tuesday.",
        ]
    )
    assert float(a @ b) >= 0.99
    assert float(a @ c) <= 0.5


def test_batching_does_not_change_vectors():
    texts = [f"sentence number {i} about hiking boots" for i in range(70)]
    from workbench.llm.embeddings import MiniLMEmbedder

    small = MiniLMEmbedder(batch_size=7).embed(texts)
    big = wb.embed(texts)
    assert np.allclose(small, big, atol=1e-4)


def test_model_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_CACHE_DIR", str(tmp_path))
    bad = WheelAsset(MINILM_ONNX.dist, MINILM_ONNX.version, MINILM_ONNX.member, "0" * 64)
    with pytest.raises(SetupError, match="sha256"):
        asset_path(bad)


@pytest.mark.parametrize("getter", ["embedder", "toxicity"])
def test_threads_that_ask_while_a_model_loads_share_one_load(monkeypatch, getter):
    """An evaluation's row workers all ask for the embedder (and the toxicity model) on their first row; the
    model is loaded once and the others wait for it (with ``functools.lru_cache`` each of 8 workers built its own
    ONNX session)."""
    import threading
    import time
    from concurrent.futures import ThreadPoolExecutor

    from workbench.llm import classifiers, embeddings

    made = []

    def slow_load(*args, **kwargs):
        time.sleep(0.2)  # a load that takes a while: every worker asks before the first one finishes
        made.append(threading.get_ident())
        return object()

    if getter == "embedder":
        monkeypatch.setattr(embeddings, "MiniLMEmbedder", slow_load)
        get, clear = embeddings.get_embedder, embeddings.get_embedder.cache_clear
    else:
        monkeypatch.setattr(classifiers, "ToxicityClassifier", slow_load)
        monkeypatch.setattr(classifiers, "asset_path", lambda asset: asset)
        get, clear = classifiers.toxicity_classifier, classifiers.toxicity_classifier.cache_clear
    clear()
    try:
        with ThreadPoolExecutor(8) as ex:
            got = list(ex.map(lambda _: get(), range(8)))
        assert len(made) == 1 and all(g is got[0] for g in got)
    finally:
        clear()  # the next test loads the real model


def test_the_toxicity_model_skipping_shared_padding_gives_the_full_run_s_scores():
    """``scores`` starts the forward LSTM after the padding steps every text shares; the probabilities equal
    those of the full 100-step run, for short, empty and over-long texts batched together."""
    from workbench.llm.classifiers import _sigmoid, toxicity_classifier

    clf = toxicity_classifier()
    texts = ["You are a worthless idiot", "The tent weighs 1.62 kg.", "", "word " * 150, "I will hurt you."]

    def full(batch):
        x = clf.emb[clf._pad([clf.sequence(t) for t in batch])]
        pooled = np.concatenate([clf._lstm(x, clf.fw), clf._lstm(x[:, ::-1], clf.bw)[:, ::-1]], axis=-1).max(axis=1)
        return _sigmoid(np.maximum(pooled @ clf.d1[0] + clf.d1[1], 0.0) @ clf.d2[0] + clf.d2[1])

    for batch in (texts, texts[:2], [texts[4]]):
        assert np.allclose(clf.scores(batch), full(batch), atol=1e-6)
