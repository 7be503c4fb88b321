"""Chunkers, registered by name in :data:`CHUNKERS`. Token counts use the embedding model's own tokenizer
(all-MiniLM-L6-v2, HF ``tokenizers`` with character offsets), so a chunk never exceeds what the embedder reads
(256 tokens).

* ``fixed``: windows of ``chunk_size`` tokens with ``overlap`` tokens shared by neighbours (ignores structure).
* ``section``: one chunk per heading section; a section longer than ``chunk_size`` is split on its blocks
  (paragraphs, list items, tables, code blocks), then sentences, then fixed windows.
* ``recursive``: the same units, greedily merged up to ``chunk_size`` *across* neighbouring sections of a
  document, so the chunk size decides how much of a manual one chunk holds; the heading path is the sections'
  common path.
* ``sentence``: sentence windows: consecutive sentences up to ``chunk_size`` tokens; neighbours share their
  last sentences up to ``overlap`` tokens.

Every chunk keeps its document id, source path, title, heading path, page (PDF) and character offsets, and is
never empty. Tables and code blocks are never cut unless they alone exceed ``chunk_size``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import lru_cache

from ..errors import WorkbenchError
from .loaders import Document


@dataclass
class Chunk:
    chunk_id: str
    doc_id: str
    source: str
    title: str
    heading_path: str  # "Tent > Specifications"
    start: int  # character offsets in the document text
    end: int
    text: str
    n_tokens: int
    page: int | None = None  # 1-based page of the chunk's start (PDF)

    @property
    def context_text(self) -> str:
        """What is embedded, indexed and shown to the model: the title and heading path, then the text."""
        head = (
            self.heading_path
            if self.heading_path.startswith(self.title)
            else " > ".join(x for x in (self.title, self.heading_path) if x)
        )
        return f"{head}\n{self.text}" if head else self.text

    def to_dict(self) -> dict:
        return asdict(self)


@lru_cache(maxsize=1)
def _tokenizer():
    from tokenizers import Tokenizer

    from ..llm.assets import MINILM_TOKENIZER, asset_path

    tok = Tokenizer.from_file(str(asset_path(MINILM_TOKENIZER)))
    tok.no_truncation()  # tokenizer.json ships truncation at 128 tokens; chunking must see every token
    tok.no_padding()
    return tok


def token_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the embedder's tokens (no special tokens)."""
    enc = _tokenizer().encode(text, add_special_tokens=False)
    return [o for o in enc.offsets if o[1] > o[0]]


def n_tokens(text: str) -> int:
    return len(token_spans(text))


class _Counter:
    """Token counts of any character span of one document, from one tokenizer pass over the whole text."""

    def __init__(self, text: str):
        spans = token_spans(text)
        self.starts = [a for a, _ in spans]
        self.ends = [b for _, b in spans]

    def __call__(self, s: int, e: int) -> int:
        return max(0, bisect.bisect_right(self.ends, e) - bisect.bisect_left(self.starts, s))


Span = tuple[int, int, int]  # start, end, tokens


def _fixed_spans(text: str, base: int, size: int, overlap: int) -> list[Span]:
    """(start, end, n tokens) windows over ``text`` (offsets shifted by ``base``)."""
    spans = token_spans(text)
    out = []
    step = max(1, size - overlap)
    for i in range(0, len(spans), step):
        window = spans[i : i + size]
        out.append((base + window[0][0], base + window[-1][1], len(window)))
        if i + size >= len(spans):
            break
    return out


_PARA = re.compile(r"\S(?:.*?)(?=\n\s*\n|\Z)", re.S)
_SENT = re.compile(r"\S.*?(?:[.!?](?=\s)|\n|\Z)", re.S)


def _pieces(text: str, base: int, pattern: re.Pattern) -> list[tuple[int, int]]:
    return [(base + m.start(), base + m.end()) for m in pattern.finditer(text) if m.group().strip()]


def _section_units(doc: Document, count: _Counter, size: int, overlap: int) -> list[list[tuple[int, int]]]:
    """Per section, the spans a chunk may be cut between: blocks (the first one reaching back to the heading),
    a block over ``size`` split into sentences, a sentence over ``size`` into fixed windows."""
    out = []
    for sec in doc.sections or []:
        if not doc.text[sec.start : sec.end].strip():
            continue
        blocks = [(max(a, sec.start), min(b, sec.end)) for a, b, _ in doc.blocks if a < sec.end and b > sec.start]
        if not doc.blocks:
            blocks = _pieces(doc.text[sec.start : sec.end], sec.start, _PARA)
        blocks = [(sec.start, blocks[0][1])] + blocks[1:] if blocks else [(sec.start, sec.end)]
        units: list[tuple[int, int]] = []
        for bs, be in blocks:
            if count(bs, be) <= size:
                units.append((bs, be))
                continue
            for ss, se in _pieces(doc.text[bs:be], bs, _SENT):
                if count(ss, se) <= size:
                    units.append((ss, se))
                else:
                    units += [(a, b) for a, b, _ in _fixed_spans(doc.text[ss:se], ss, size, overlap)]
        out.append(units)
    return out


def _merge(units: list[tuple[int, int]], count: _Counter, size: int) -> list[Span]:
    """Greedy merge of consecutive units up to ``size`` tokens."""
    out, cur = [], None
    for s, e in units:
        if cur is not None and count(cur[0], e) <= size:
            cur = (cur[0], e)
            continue
        if cur is not None:
            out.append((*cur, count(*cur)))
        cur = (s, e)
    if cur is not None:
        out.append((*cur, count(*cur)))
    return out


def _chunk_fixed(doc: Document, size: int, overlap: int) -> list[Span]:
    return _fixed_spans(doc.text, 0, size, overlap)


def _chunk_section(doc: Document, size: int, overlap: int) -> list[Span]:
    count = _Counter(doc.text)
    return [sp for units in _section_units(doc, count, size, overlap) for sp in _merge(units, count, size)]


def _chunk_recursive(doc: Document, size: int, overlap: int) -> list[Span]:
    count = _Counter(doc.text)
    return _merge([u for units in _section_units(doc, count, size, overlap) for u in units], count, size)


def _chunk_sentence(doc: Document, size: int, overlap: int) -> list[Span]:
    count = _Counter(doc.text)
    sents = []
    for units in _section_units(doc, count, size, overlap):
        for us, ue in units:
            whole = doc.block_kind(us, ue) != "text" or doc.block_kind(ue - 1, ue) != "text"
            sents += [(us, ue)] if whole else (_pieces(doc.text[us:ue], us, _SENT) or [(us, ue)])
    sents = [(s, e) for s, e in sents if count(s, e) <= size] or sents
    out, i = [], 0
    while i < len(sents):
        j = i + 1
        while j < len(sents) and count(sents[i][0], sents[j][1]) <= size:
            j += 1
        out.append((sents[i][0], sents[j - 1][1], count(sents[i][0], sents[j - 1][1])))
        if j >= len(sents):
            break
        k = j  # the next window starts with the last sentences of this one, up to ``overlap`` tokens
        while k - 1 > i and count(sents[k - 1][0], sents[j - 1][1]) <= overlap:
            k -= 1
        i = k
    return out


CHUNKERS: dict[str, Callable[[Document, int, int], list[Span]]] = {
    "fixed": _chunk_fixed,
    "section": _chunk_section,
    "recursive": _chunk_recursive,
    "sentence": _chunk_sentence,
}


def _place(doc: Document, start: int, end: int) -> tuple[str, int | None]:
    """Heading path common to the sections a span covers, and the page of its start."""
    secs = [s for s in doc.sections if s.start < end and s.end > start] or [
        s for s in doc.sections if s.start <= start < s.end
    ]
    if not secs:
        return "", None
    path = list(secs[0].heading_path)
    for s in secs[1:]:
        n = 0
        while n < min(len(path), len(s.heading_path)) and path[n] == s.heading_path[n]:
            n += 1
        path = path[:n]
    return " > ".join(path), secs[0].page


def chunk_documents(
    docs: list[Document], chunker: str = "recursive", chunk_size: int = 200, overlap: int = 30
) -> list[Chunk]:
    """Split documents into chunks (never empty); ids are ``<doc_id>#<n>``."""
    if chunker not in CHUNKERS:
        raise WorkbenchError(f"unknown chunker '{chunker}': one of {sorted(CHUNKERS)}")
    if not 8 <= chunk_size <= 256:
        raise WorkbenchError(f"chunk_size must be 8..256 tokens (the embedder reads 256), got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise WorkbenchError(f"overlap must be in [0, chunk_size), got {overlap}")
    chunks = []
    for doc in docs:
        n = 0
        for s, e, nt in CHUNKERS[chunker](doc, chunk_size, overlap):
            text = doc.text[s:e].strip()
            if not text:
                continue
            start = s + len(doc.text[s:e]) - len(doc.text[s:e].lstrip())
            heading, page = _place(doc, start, start + len(text))
            chunks.append(
                Chunk(
                    f"{doc.doc_id}#{n}",
                    doc.doc_id,
                    doc.source,
                    doc.title,
                    heading,
                    start,
                    start + len(text),
                    text,
                    nt,
                    page,
                )
            )
            n += 1
    return chunks
