"""Chunkers. Token counts use the embedding model's own tokenizer (all-MiniLM-L6-v2, HF ``tokenizers``
with character offsets), so a chunk never exceeds what the embedder reads (256 tokens).

* ``fixed``: windows of ``chunk_size`` tokens with ``overlap`` tokens shared by neighbours.
* ``recursive``: by headings (sections) → paragraphs → sentences, greedily merged up to ``chunk_size``;
  a single sentence longer than that falls back to fixed windows.

Every chunk keeps its document id, source path, title, heading path and character offsets, and is never empty.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from functools import lru_cache

from ..errors import WorkbenchError
from .loaders import Document

CHUNKERS = ("fixed", "recursive")


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

    @property
    def context_text(self) -> str:
        """What is embedded, indexed and shown to the model: the title and heading path, then the text."""
        head = self.heading_path if self.heading_path.startswith(self.title) else \
            " > ".join(x for x in (self.title, self.heading_path) if x)
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


def _heading_at(doc: Document, offset: int) -> str:
    for s in doc.sections:
        if s.start <= offset < s.end:
            return " > ".join(s.heading_path)
    return ""


def _fixed_spans(text: str, base: int, size: int, overlap: int) -> list[tuple[int, int, int]]:
    """(start, end, n tokens) windows over ``text`` (offsets shifted by ``base``)."""
    spans = token_spans(text)
    out = []
    step = max(1, size - overlap)
    for i in range(0, len(spans), step):
        window = spans[i:i + size]
        out.append((base + window[0][0], base + window[-1][1], len(window)))
        if i + size >= len(spans):
            break
    return out


_PARA = re.compile(r"\S(?:.*?)(?=\n\s*\n|\Z)", re.S)
_SENT = re.compile(r"\S.*?(?:[.!?](?=\s)|\n|\Z)", re.S)


def _pieces(text: str, base: int, pattern: re.Pattern) -> list[tuple[int, int]]:
    return [(base + m.start(), base + m.end()) for m in pattern.finditer(text) if m.group().strip()]


def _recursive_spans(doc: Document, size: int, overlap: int) -> list[tuple[int, int, int]]:
    out = []
    for sec in doc.sections or []:
        body = doc.text[sec.start:sec.end]
        if not body.strip():
            continue
        if n_tokens(body) <= size:
            out.append((sec.start, sec.end, n_tokens(body)))
            continue
        units: list[tuple[int, int]] = []
        for ps, pe in _pieces(body, sec.start, _PARA):
            para = doc.text[ps:pe]
            if n_tokens(para) <= size:
                units.append((ps, pe))
            else:
                for ss, se in _pieces(para, ps, _SENT):
                    if n_tokens(doc.text[ss:se]) <= size:
                        units.append((ss, se))
                    else:
                        units += [(a, b) for a, b, _ in _fixed_spans(doc.text[ss:se], ss, size, overlap)]
        cur_s = cur_e = None
        for s, e in units:  # greedy merge of consecutive units up to ``size`` tokens
            if cur_s is not None and n_tokens(doc.text[cur_s:e]) <= size:
                cur_e = e
                continue
            if cur_s is not None:
                out.append((cur_s, cur_e, n_tokens(doc.text[cur_s:cur_e])))
            cur_s, cur_e = s, e
        if cur_s is not None:
            out.append((cur_s, cur_e, n_tokens(doc.text[cur_s:cur_e])))
    return out


def chunk_documents(docs: list[Document], chunker: str = "recursive", chunk_size: int = 200,
                    overlap: int = 30) -> list[Chunk]:
    """Split documents into chunks (never empty); ids are ``<doc_id>#<n>``."""
    if chunker not in CHUNKERS:
        raise WorkbenchError(f"unknown chunker '{chunker}': one of {CHUNKERS}")
    if not 8 <= chunk_size <= 256:
        raise WorkbenchError(f"chunk_size must be 8..256 tokens (the embedder reads 256), got {chunk_size}")
    if not 0 <= overlap < chunk_size:
        raise WorkbenchError(f"overlap must be in [0, chunk_size), got {overlap}")
    chunks = []
    for doc in docs:
        spans = (_fixed_spans(doc.text, 0, chunk_size, overlap) if chunker == "fixed"
                 else _recursive_spans(doc, chunk_size, overlap))
        n = 0
        for s, e, nt in spans:
            text = doc.text[s:e].strip()
            if not text:
                continue
            lead = len(doc.text[s:e]) - len(doc.text[s:e].lstrip())
            start = s + lead
            chunks.append(Chunk(f"{doc.doc_id}#{n}", doc.doc_id, doc.source, doc.title, _heading_at(doc, start),
                                start, start + len(text), text, nt))
            n += 1
    return chunks
