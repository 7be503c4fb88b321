"""Document loaders, one per format, registered by file extension in :data:`LOADERS`:

* Markdown through ``markdown-it-py`` (CommonMark + tables): headings come from the parser's heading tokens,
  so a ``# ...`` line inside a fenced code block stays code; tables and code blocks are kept whole as blocks.
* HTML through ``beautifulsoup4``: ``nav``, ``script``, ``style``, ``header``, ``footer``, ``aside``, ``form``
  and ``noscript`` are dropped; a table becomes one line per row with its cells separated by `` | ``;
  ``h1``-``h6`` give the heading path.
* PDF through ``pypdf``: one section per page, carrying its 1-based page number (chunks keep it).
* Plain text: one section.

Each :class:`Document` keeps its text, its sections — ``(heading path, start, end, page)`` character spans —
and its blocks (paragraphs, list items, tables, code blocks: spans a chunker should not cut inside), so chunks
carry the heading path, page and offsets of where they came from. ``doc_id`` is the path relative to the loaded
folder without its extension (``tent-traillite-2``), which is what ``gold_doc_ids`` use. A file that cannot be
parsed raises :class:`~workbench.errors.DatasetError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError


@dataclass
class Section:
    heading_path: tuple[str, ...]
    start: int
    end: int
    page: int | None = None  # 1-based page number (PDF)


@dataclass
class Document:
    doc_id: str
    source: str
    title: str
    text: str
    format: str
    sections: list[Section] = field(default_factory=list)
    blocks: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, kind) in order

    def block_kind(self, start: int, end: int) -> str:
        """``table``, ``code`` or ``text``: the kind of the block that holds ``[start, end)``."""
        return next((k for a, b, k in self.blocks if a <= start and end <= b), "text")


def _sections_from_headings(text: str, headings: list[tuple[int, int, str]]) -> list[Section]:
    """``headings``: (offset, level, title) in order → sections spanning to the next heading."""
    out: list[Section] = []
    path: list[tuple[int, str]] = []  # (level, title) of the enclosing headings
    if not headings or headings[0][0] > 0:
        first = headings[0][0] if headings else len(text)
        if text[:first].strip():
            out.append(Section((), 0, first))
    for i, (off, level, title) in enumerate(headings):
        path = [p for p in path if p[0] < level] + [(level, title)]
        end = headings[i + 1][0] if i + 1 < len(headings) else len(text)
        out.append(Section(tuple(t for _, t in path), off, end))
    return out


def _line_offsets(text: str) -> list[int]:
    starts = [0]
    starts += [m.end() for m in re.finditer(r"\n", text)]
    return starts + [len(text)]


_MD_KIND = {"table_open": "table", "fence": "code", "code_block": "code", "html_block": "code"}


def load_markdown(path: Path, doc_id: str) -> Document:
    from markdown_it import MarkdownIt

    text = path.read_text(encoding="utf-8")
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    lines = _line_offsets(text)

    def span(tok) -> tuple[int, int]:
        a, b = tok.map
        return lines[min(a, len(lines) - 1)], lines[min(b, len(lines) - 1)]

    heads, blocks = [], []
    for i, tok in enumerate(tokens):
        if tok.map is None or not (tok.level == 0 or (tok.level == 1 and tok.type == "list_item_open")):
            continue  # top-level blocks (a fence or a table is one block) and the items of top-level lists
        if tok.type == "heading_open":
            heads.append((span(tok)[0], int(tok.tag[1]), tokens[i + 1].content.strip()))
        elif tok.type in ("bullet_list_open", "ordered_list_open"):
            continue  # its items are the blocks
        elif tok.type.endswith("_open") or tok.type in ("fence", "code_block", "html_block"):
            s, e = span(tok)
            if text[s:e].strip():
                blocks.append((s, e, _MD_KIND.get(tok.type, "text")))
    title = next((t for _, lvl, t in heads if lvl == 1), path.stem)
    return Document(doc_id, str(path), title, text, "markdown", _sections_from_headings(text, heads), blocks)


def load_text(path: Path, doc_id: str) -> Document:
    text = path.read_text(encoding="utf-8")
    return Document(doc_id, str(path), path.stem, text, "text", [Section((), 0, len(text))])


_HTML_DROP = (
    "nav",
    "script",
    "style",
    "header",
    "footer",
    "aside",
    "form",
    "noscript",
    "template",
    "svg",
    "iframe",
    "button",
)
_HTML_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_HTML_LEAVES = ("p", "li", "pre", "blockquote", "dt", "dd", "figcaption", "caption", "address")
_HTML_CONTAINERS = (
    "html",
    "body",
    "main",
    "div",
    "section",
    "article",
    "ul",
    "ol",
    "dl",
    "figure",
    "details",
    "summary",
    "center",
    "hgroup",
    "fieldset",
)


def _html_table(table) -> str:
    """One line per row, cells joined by `` | `` (a nested table is read inside its cell)."""
    rows = []
    for tr in table.find_all("tr"):
        if tr.find_parent("table") is not table:
            continue
        cells = [" ".join(c.get_text(" ", strip=True).split()) for c in tr.find_all(("td", "th"), recursive=False)]
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


class _HTMLBlocks:
    """Walks the tree: headings, tables and leaf blocks become blocks; loose inline text between blocks
    (text directly inside a ``div``) becomes a block of its own."""

    def __init__(self):
        self.text, self.heads, self.blocks, self._inline = "", [], [], []

    def _emit(self, piece: str, heading: int | None = None, kind: str = "text") -> None:
        if not piece.strip():
            return
        if self.text:
            self.text += "\n\n"
        if heading:
            self.heads.append((len(self.text), heading, piece))
        else:
            self.blocks.append((len(self.text), len(self.text) + len(piece), kind))
        self.text += piece

    def _flush(self) -> None:
        self._emit(" ".join(" ".join(self._inline).split()))
        self._inline = []

    def walk(self, el) -> None:
        from bs4 import NavigableString, Tag
        from bs4.element import Comment, Doctype, ProcessingInstruction

        for child in el.children:
            if isinstance(child, (Comment, Doctype, ProcessingInstruction)):
                continue
            if isinstance(child, NavigableString):
                self._inline.append(str(child))
            elif not isinstance(child, Tag):
                continue
            elif child.name in _HTML_HEADINGS:
                self._flush()
                self._emit(" ".join(child.get_text(" ", strip=True).split()), int(child.name[1]))
            elif child.name == "table":
                self._flush()
                self._emit(_html_table(child), kind="table")
            elif child.name == "pre":
                self._flush()
                self._emit(child.get_text().strip("\n"), kind="code")
            elif child.name in _HTML_LEAVES:
                self._flush()
                self._emit(" ".join(child.get_text(" ", strip=True).split()))
            elif child.name in _HTML_CONTAINERS:
                self._flush()
                self.walk(child)
                self._flush()
            elif child.name == "br":
                self._inline.append("\n")
            else:
                self._inline.append(child.get_text(" "))


def load_html(path: Path, doc_id: str) -> Document:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(path.read_text(encoding="utf-8", errors="replace"), "html.parser")
    page_title = " ".join(soup.title.get_text(" ", strip=True).split()) if soup.title else ""
    for tag in soup.find_all(("head",) + _HTML_DROP):
        tag.decompose()
    w = _HTMLBlocks()
    w.walk(soup.body or soup)
    w._flush()
    text = w.text + "\n"
    title = page_title or next((t for _, lvl, t in w.heads if lvl == 1), path.stem)
    return Document(doc_id, str(path), title, text, "html", _sections_from_headings(text, w.heads), w.blocks)


_PARA = re.compile(r"\S(?:.*?)(?=\n\s*\n|\Z)", re.S)


def load_pdf(path: Path, doc_id: str) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        pages = [(page.extract_text() or "") for page in reader.pages]
        meta_title = reader.metadata.title if reader.metadata and reader.metadata.title else None
    except (PdfReadError, OSError, ValueError, KeyError, TypeError) as e:
        raise DatasetError(f"unreadable PDF ({type(e).__name__}: {e})", str(path)) from None
    text, sections, blocks = "", [], []
    for i, t in enumerate(pages):
        start = len(text)
        body = t.strip()
        blocks += [(start + m.start(), start + m.end(), "text") for m in _PARA.finditer(body)]
        text += body + "\n\n"
        sections.append(Section((f"page {i + 1}",), start, len(text), page=i + 1))
    return Document(doc_id, str(path), meta_title or path.stem, text, "pdf", sections, blocks)


LOADERS: dict[str, Callable[[Path, str], Document]] = {
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
    ".html": load_html,
    ".htm": load_html,
    ".pdf": load_pdf,
}


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
        except DatasetError:
            raise
        except Exception as e:  # any parser failure must name the file
            raise DatasetError(
                f"cannot parse {loader.__name__.removeprefix('load_')} document ({type(e).__name__}: {e})", str(f)
            ) from e
    return docs
