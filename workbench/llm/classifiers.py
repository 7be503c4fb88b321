"""Offline text classifiers that ship as weights inside pinned wheels, run in numpy (no deep-learning framework).

``toxicity_classifier()``: the Jigsaw BiLSTM of ``toxic-comment-classifier`` 0.3.0 (MIT, publisher Md Irfan Ali,
github.com/irfanalidv/toxic_comment_classifier). The package declares TensorFlow, but all it needs is its
``model.weights.h5`` (Keras 3 layout: embedding 20000x50 -> bidirectional LSTM 50 -> global max pool -> dense 50
relu -> dense 6 sigmoid) and its pickled Keras ``Tokenizer``. Both files are pinned by sha256
(:mod:`workbench.llm.assets`), obtained once (``workbench setup``) into the user cache, and read here with
``h5py`` and a **restricted unpickler** that builds only the tokenizer's plain data (a dict subclass stub, an
``OrderedDict``, a ``defaultdict``, ``int``): any other global in the pickle is refused. Outputs per text:
``toxic``, ``severe_toxic``, ``obscene``, ``threat``, ``insult``, ``identity_hate`` in [0, 1]. About 5 ms a text
on one core. Known weaknesses (measured in docs/metrics.md): veiled threats, dehumanising hate without slurs,
and any text that swears.
"""

from __future__ import annotations

import functools
import io
import pickle
import threading
from collections import OrderedDict, defaultdict
from typing import ClassVar

import numpy as np
from cachetools import LRUCache, cached

from .assets import TOXIC_TOKENIZER, TOXIC_WEIGHTS, asset_path

LABELS = ("toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate")
MAXLEN = 100
_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


class _TokenizerState:
    """The pickled Keras Tokenizer's attributes, without Keras (the unpickler maps the class here)."""

    def __setstate__(self, state):
        self.__dict__.update(state)


class _RestrictedUnpickler(pickle.Unpickler):
    """Builds only what a Keras ``Tokenizer`` pickle holds; any other global raises ``UnpicklingError``."""

    ALLOWED: ClassVar[dict] = {
        ("keras.src.legacy.preprocessing.text", "Tokenizer"): _TokenizerState,
        ("keras.preprocessing.text", "Tokenizer"): _TokenizerState,
        ("collections", "OrderedDict"): OrderedDict,
        ("collections", "defaultdict"): defaultdict,
        ("builtins", "int"): int,
    }

    def find_class(self, module, name):
        try:
            return self.ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refused global {module}.{name} in the tokenizer pickle") from None


def restricted_load(data: bytes):
    """Unpickle ``data`` with :class:`_RestrictedUnpickler`."""
    return _RestrictedUnpickler(io.BytesIO(data)).load()


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _cell(z, c, units: int):
    """One Keras LSTM step from the gate pre-activations ``z`` (gates i, f, c, o on the last axis): ``(h, c)``."""
    i, f = _sigmoid(z[..., :units]), _sigmoid(z[..., units : 2 * units])
    g, o = np.tanh(z[..., 2 * units : 3 * units]), _sigmoid(z[..., 3 * units :])
    c = f * c + i * g
    return o * np.tanh(c), c


class ToxicityClassifier:
    """The BiLSTM toxicity model in numpy. ``scores(texts)`` -> array (n, 6) in the order of :data:`LABELS`."""

    def __init__(self, weights_path, tokenizer_path):
        import h5py

        with open(tokenizer_path, "rb") as f:
            tok = restricted_load(f.read())
        self.word_index: dict = dict(tok.word_index)
        self.num_words = getattr(tok, "num_words", None)
        self.lower = getattr(tok, "lower", True)
        self.filters = getattr(tok, "filters", _FILTERS)
        self.split = getattr(tok, "split", " ")
        oov = getattr(tok, "oov_token", None)
        self.oov_index = self.word_index.get(oov) if oov else None
        with h5py.File(weights_path, "r") as f:
            g = f["layers"]
            self.emb = g["embedding/vars/0"][()]
            self.fw = [g[f"bidirectional/forward_layer/cell/vars/{i}"][()] for i in range(3)]
            self.bw = [g[f"bidirectional/backward_layer/cell/vars/{i}"][()] for i in range(3)]
            self.d1 = (g["dense/vars/0"][()], g["dense/vars/1"][()])
            self.d2 = (g["dense_1/vars/0"][()], g["dense_1/vars/1"][()])

    def sequence(self, text: str) -> list[int]:
        """Keras ``texts_to_sequences`` for one text (lower-case, filter punctuation, split, look up)."""
        t = text.lower() if self.lower else text
        t = t.translate(str.maketrans({c: self.split for c in self.filters}))
        out = []
        for w in (w for w in t.split(self.split) if w):
            i = self.word_index.get(w)
            if i is not None and not (self.num_words and i >= self.num_words):
                out.append(i)
            elif self.oov_index is not None:
                out.append(self.oov_index)
        return out

    def _pad(self, seqs: list[list[int]]) -> np.ndarray:
        """Keras ``pad_sequences(maxlen=100)``: pre-padding and pre-truncation with 0."""
        x = np.zeros((len(seqs), MAXLEN), dtype=np.int64)
        for r, s in enumerate(seqs):
            s = s[-MAXLEN:]
            if s:
                x[r, MAXLEN - len(s) :] = s
        return x

    @staticmethod
    def _lstm(x: np.ndarray, w: list[np.ndarray], start=None) -> np.ndarray:
        """Keras LSTM over (batch, time, dim) with return_sequences; gates i, f, c, o; sigmoid / tanh.
        ``start``: ``(t0, h, c, out)``: every row's state after its first ``t0`` steps is ``h``, ``c`` and its
        outputs there are ``out`` (the first ``t0`` steps are the same for every row); the loop begins at ``t0``."""
        kernel, rec, bias = w
        units = rec.shape[0]
        n, steps, _ = x.shape
        t0 = 0
        h = np.zeros((n, units), np.float32)
        c = np.zeros((n, units), np.float32)
        out = np.empty((n, steps, units), np.float32)
        if start is not None:
            t0, h0, c0, out0 = start
            h, c = np.repeat(h0[None], n, axis=0), np.repeat(c0[None], n, axis=0)
            out[:, :t0] = out0
        xw = x[:, t0:] @ kernel + bias
        for t in range(t0, steps):
            h, c = _cell(xw[:, t - t0] + h @ rec, c, units)
            out[:, t] = h
        return out

    @functools.cached_property
    def _padding_run(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The forward layer over :data:`MAXLEN` padding tokens: its state after each step (``h``, ``c``:
        (MAXLEN + 1, units), row ``k`` after ``k`` steps) and its outputs (MAXLEN, units). Texts are pre-padded,
        so a text of ``L`` tokens starts with ``MAXLEN - L`` of these steps, the same for every text."""
        kernel, rec, bias = self.fw
        units = rec.shape[0]
        z_in = self.emb[0] @ kernel + bias  # the padding token's input, every step
        h, c = np.zeros(units, np.float32), np.zeros(units, np.float32)
        hs, cs = [h], [c]
        for _ in range(MAXLEN):
            h, c = _cell(z_in + h @ rec, c, units)
            hs.append(h)
            cs.append(c)
        return np.stack(hs), np.stack(cs), np.stack(hs[1:])

    def scores(self, texts: list[str]) -> np.ndarray:
        """Per text, the six label probabilities (order of :data:`LABELS`). The forward layer skips the padding
        steps every text shares (:attr:`_padding_run`): the same numbers, in a fraction of the steps for short
        texts (a sentence is about 15 of the 100)."""
        if not texts:
            return np.zeros((0, len(LABELS)), np.float32)
        ids = self._pad([self.sequence(t) for t in texts])
        x = self.emb[ids]
        real = ids != 0  # Keras keeps index 0 for padding
        t0 = int(np.where(real.any(axis=1), real.argmax(axis=1), MAXLEN).min())  # padding steps all rows share
        hs, cs, outs = self._padding_run
        fw = self._lstm(x, self.fw, start=(t0, hs[t0], cs[t0], outs[:t0]))
        bw = self._lstm(x[:, ::-1], self.bw)[:, ::-1]  # the backward layer's outputs, re-aligned in time
        pooled = np.concatenate([fw, bw], axis=-1).max(axis=1)
        hidden = np.maximum(pooled @ self.d1[0] + self.d1[1], 0.0)
        return _sigmoid(hidden @ self.d2[0] + self.d2[1])

    def classify(self, text: str) -> dict[str, float]:
        """``{label: probability}`` for one text."""
        return dict(zip(LABELS, (float(v) for v in self.scores([text])[0]), strict=True))


@cached(LRUCache(maxsize=1), condition=threading.Condition())
def toxicity_classifier() -> ToxicityClassifier:
    """The toxicity model, loaded once per process (its files fetched and hash-checked on first use); threads
    that ask while it loads wait for that load (see :func:`workbench.llm.embeddings.get_embedder`)."""
    return ToxicityClassifier(asset_path(TOXIC_WEIGHTS), asset_path(TOXIC_TOKENIZER))
