"""Document loaders: Markdown, plain text, HTML (stdlib ``html.parser``) and PDF (``pypdf``).

Each :class:`Document` keeps its text and its sections — ``(heading path, start, end)`` character spans —
so chunks can carry the heading path and offsets of where they came from. ``doc_id`` is the path relative
to the loaded folder without its extension (``tent-traillite-2``), which is what ``gold_doc_ids`` use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from ..errors import DatasetError


@dataclass
class Section:
    heading_path: tuple[str, ...]
    start: int
    end: int


@dataclass
class Document:
    doc_id: str
    source: str
    title: str
    text: str
    format: str
    sections: list[Section] = field(default_factory=list)


_MD_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def _sections_from_headings(text: str, headings: list[tuple[int, int, str]]) -> list[Section]:
    """``headings``: (offset, level, title) in order → sections spanning to the next heading."""
    out, path = [], []
    if not headings or headings[0][0] > 0:
        first = headings[0][0] if headings else len(text)
        if text[:first].strip():
            out.append(Section((), 0, first))
    for i, (off, level, title) in enumerate(headings):
        path = [p for p in path if p[0] < level] + [(level, title)]
        end = headings[i + 1][0] if i + 1 < len(headings) else len(text)
        out.append(Section(tuple(t for _, t in path), off, end))
    return out


def load_markdown(path: Path, doc_id: str) -> Document:
    text = path.read_text(encoding="utf-8")
    heads = [(m.start(), len(m.group(1)), m.group(2).strip()) for m in _MD_HEADING.finditer(text)]
    title = next((t for _, lvl, t in heads if lvl == 1), path.stem)
    return Document(doc_id, str(path), title, text, "markdown", _sections_from_headings(text, heads))


def load_text(path: Path, doc_id: str) -> Document:
    text = path.read_text(encoding="utf-8")
    return Document(doc_id, str(path), path.stem, text, "text", [Section((), 0, len(text))])


class _HTMLText(HTMLParser):
    BLOCK = {"p", "div", "li", "br", "tr", "section", "article", "ul", "ol", "table", "pre", "blockquote"}
    SKIP = {"script", "style", "head", "nav", "footer"}

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []
        self.headings: list[tuple[int, int, str]] = []
        self._h: tuple[int, list[str]] | None = None
        self._skip = 0
        self.title = ""
        self._in_title = False

    def _len(self) -> int:
        return sum(len(p) for p in self.parts)

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self._skip += 1
        if tag == "title":
            self._in_title = True
        if re.fullmatch(r"h[1-6]", tag):
            self.parts.append("\n\n")
            self._h = (int(tag[1]), [])
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        if tag == "title":
            self._in_title = False
        if re.fullmatch(r"h[1-6]", tag) and self._h:
            level, words = self._h
            title = " ".join("".join(words).split())
            self.headings.append((self._len(), level, title))
            self.parts.append(title + "\n")
            self._h = None
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        if self._skip:
            return
        if self._h is not None:
            self._h[1].append(data)
        else:
            self.parts.append(data)


def load_html(path: Path, doc_id: str) -> Document:
    p = _HTMLText()
    p.feed(path.read_text(encoding="utf-8", errors="replace"))
    text = re.sub(r"\n{3,}", "\n\n", "".join(p.parts))
    # recompute heading offsets on the collapsed text
    heads, pos = [], 0
    for _, level, title in p.headings:
        i = text.find(title, pos)
        if i >= 0:
            heads.append((i, level, title))
            pos = i + len(title)
    title = p.title.strip() or next((t for _, lvl, t in heads if lvl == 1), path.stem)
    return Document(doc_id, str(path), title, text, "html", _sections_from_headings(text, heads))


def load_pdf(path: Path, doc_id: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "") for page in reader.pages]
    except (PdfReadError, OSError, ValueError) as e:
        raise DatasetError(f"unreadable PDF ({type(e).__name__}: {e})", str(path)) from None
    text, sections = "", []
    for i, t in enumerate(pages):
        start = len(text)
        text += t.strip() + "\n\n"
        sections.append(Section((f"page {i + 1}",), start, len(text)))
    meta_title = (reader.metadata.title if reader.metadata and reader.metadata.title else None)
    return Document(doc_id, str(path), meta_title or path.stem, text, "pdf", sections)


LOADERS = {".md": load_markdown, ".markdown": load_markdown, ".txt": load_text, ".html": load_html,
           ".htm": load_html, ".pdf": load_pdf}


def load_documents(path: str | Path, extensions: tuple[str, ...] | None = None) -> list[Document]:
    """Load one file or every supported file under a folder (sorted, so the order is stable)."""
    root = Path(path)
    if not root.exists():
        raise DatasetError("corpus path not found", str(root))
    exts = tuple(extensions or LOADERS)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.suffix.lower() in exts)
    if not files:
        raise DatasetError(f"no documents with extensions {list(exts)}", str(root))
    docs = []
    for f in files:
        loader = LOADERS.get(f.suffix.lower())
        if loader is None:
            raise DatasetError(f"unsupported document type '{f.suffix}'; expected one of {sorted(LOADERS)}", str(f))
        rel = f.relative_to(root) if root.is_dir() else Path(f.name)
        try:
            docs.append(loader(f, str(rel.with_suffix(""))))
        except UnicodeDecodeError as e:
            raise DatasetError(f"not UTF-8 (byte offset {e.start}); re-save the file as UTF-8", str(f)) from None
    return docs
