"""Loaders on files with the constructs that real documents have (code fences, tables, boilerplate, several
PDF pages), the chunkers on top of them, and loader errors that name the file."""

from itertools import pairwise
from pathlib import Path

import pytest

from workbench import rag
from workbench.errors import DatasetError

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "datasets/contoso/manuals"


def minimal_pdf(pages: list[str], title: str | None = None) -> bytes:
    """A PDF with one page per string, Helvetica text (hand-built objects and xref)."""
    n = len(pages)
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(n))
    font = 3 + 2 * n
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", f"<< /Type /Pages /Kids [{kids}] /Count {n} >>".encode()]
    for i, text in enumerate(pages):
        lines = " ".join(f"({t}) Tj 0 -16 Td" for t in text.split("\n"))
        stream = f"BT /F1 12 Tf 72 720 Td {lines} ET".encode()
        objs.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objs.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    objs.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = None
    if title:
        objs.append(f"<< /Title ({title}) >>".encode())
        info = len(objs)
    out, offsets = b"%PDF-1.4\n", []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    trailer = f"trailer\n<< /Size {len(objs) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "") + " >>"
    out += trailer.encode() + b"\nstartxref\n%d\n%%%%EOF\n" % xref
    return out


MD = """# Stove Guide

Intro line.

## Fuel
Use isobutane.

```bash
# this is a shell comment, not a heading
stove --prime
```

### Cold
Warm the canister.

| Spec | Value |
|------|-------|
| Poles | 2 |
| Weight | 1.2 kg |

## Safety
Outdoors only.
"""

HTML = """<html><head><title>Boot Page</title><style>.x{color:red}</style><script>var tracker = 1;</script></head>
<body><nav><a href="/">Home</a> | <a href="/shop">Shop</a></nav>
<header>Contoso banner</header>
<h1>Boots</h1><div>Loose intro text <b>with bold</b><p>Vibram soles.</p></div>
<h2>Specifications</h2>
<table><tr><th>Spec</th><th>Value</th></tr><tr><td>Poles</td><td>2</td></tr><tr><td>Drop</td><td>12 mm</td></tr></table>
<h2>Care</h2><ul><li>Brush them clean.</li><li>Never dry by a fire.</li></ul>
<footer>(c) Contoso cookie notice</footer><script>track()</script></body></html>
"""


@pytest.fixture
def mixed_corpus(tmp_path):
    d = tmp_path / "corpus"
    d.mkdir()
    (d / "guide.md").write_text(MD)
    (d / "page.html").write_text(HTML)
    (d / "notes.txt").write_text("Plain notes about tents.\n")
    (d / "manual.pdf").write_bytes(
        minimal_pdf(
            ["Aurora headlamp manual", "The Aurora headlamp gives 400 lumens.", "Battery: 3 AAA cells."],
            title="Aurora Headlamp",
        )
    )
    return d


def test_markdown_code_fence_is_not_a_heading_and_table_stays_whole(mixed_corpus):
    doc = rag.load_documents(mixed_corpus / "guide.md")[0]
    paths = [s.heading_path for s in doc.sections]
    assert paths == [
        ("Stove Guide",),
        ("Stove Guide", "Fuel"),
        ("Stove Guide", "Fuel", "Cold"),
        ("Stove Guide", "Safety"),
    ]  # the '# this is a shell comment' line is code
    assert doc.title == "Stove Guide"
    for chunker in ("section", "recursive", "sentence"):
        chunks = rag.chunk_documents([doc], chunker, chunk_size=40, overlap=4)
        for c in chunks:
            assert doc.text[c.start : c.end] == c.text and c.n_tokens <= 40
        fence = [c for c in chunks if "stove --prime" in c.text]
        assert len(fence) == 1 and "```bash\n# this is a shell comment" in fence[0].text, chunker
        table = [c for c in chunks if "| Poles | 2 |" in c.text]
        assert len(table) == 1 and "| Spec | Value |" in table[0].text and "| Weight | 1.2 kg |" in table[0].text, (
            chunker
        )  # a table that fits is never cut
        assert table[0].heading_path.startswith("Stove Guide"), chunker
    by_section = {c.heading_path: c.text for c in rag.chunk_documents([doc], "section", chunk_size=40)}
    assert "| Poles | 2 |" in by_section["Stove Guide > Fuel > Cold"]
    assert (
        "stove --prime" in by_section["Stove Guide > Fuel"] and "Outdoors only." in by_section["Stove Guide > Safety"]
    )


def test_html_tables_are_rows_of_cells_and_boilerplate_is_dropped(mixed_corpus):
    doc = rag.load_documents(mixed_corpus / "page.html")[0]
    assert doc.title == "Boot Page"
    assert "Poles | 2\nDrop | 12 mm" in doc.text and "Poles2" not in doc.text
    for junk in ("Home", "Shop", "tracker", "track()", "color:red", "cookie", "banner"):
        assert junk not in doc.text, junk
    assert "Loose intro text with bold" in doc.text and "Vibram soles." in doc.text
    assert "Brush them clean." in doc.text and "Never dry by a fire." in doc.text
    paths = [s.heading_path for s in doc.sections]
    assert ("Boots", "Specifications") in paths and ("Boots", "Care") in paths
    chunks = rag.chunk_documents([doc], "section", chunk_size=64)
    spec = next(c for c in chunks if "Drop | 12 mm" in c.text)
    assert spec.heading_path == "Boots > Specifications" and doc.text[spec.start : spec.end] == spec.text


def test_pdf_pages_carry_page_numbers_into_chunks_and_the_saved_index(mixed_corpus, tmp_path, project_dir):
    doc = rag.load_documents(mixed_corpus / "manual.pdf")[0]
    assert doc.title == "Aurora Headlamp" and doc.format == "pdf"
    assert [s.page for s in doc.sections] == [1, 2, 3]
    chunks = rag.chunk_documents([doc], "section", chunk_size=32)
    by_text = {c.text: c.page for c in chunks}
    assert by_text["The Aurora headlamp gives 400 lumens."] == 2 and by_text["Battery: 3 AAA cells."] == 3
    md_chunks = rag.chunk_documents(rag.load_documents(mixed_corpus / "guide.md"), "section", 64)
    index = rag.build_index(chunks + md_chunks)
    loaded = rag.VectorIndex.load(index.save(tmp_path / "idx"))
    assert [c.page for c in loaded.chunks] == [c.page for c in chunks + md_chunks]
    assert loaded.chunks[-1].page is None and isinstance(loaded.chunks[1].page, int)


def test_loader_errors_name_the_file(tmp_path):
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4\nthis is not a pdf at all")
    with pytest.raises(DatasetError, match="broken.pdf"):
        rag.load_documents(tmp_path)
    bad.unlink()
    (tmp_path / "latin1.md").write_bytes("# Caf\xe9\n".encode("latin-1"))
    with pytest.raises(DatasetError, match=r"latin1\.md.*UTF-8"):
        rag.load_documents(tmp_path)
    with pytest.raises(DatasetError, match="not found"):
        rag.load_documents(tmp_path / "nope")
    (tmp_path / "x.docx").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"x\.docx.*unsupported"):
        rag.load_documents(tmp_path / "x.docx")


def test_mixed_folder_loads_every_format(mixed_corpus):
    docs = {d.doc_id: d for d in rag.load_documents(mixed_corpus)}
    assert set(docs) == {"guide", "page", "notes", "manual"}
    assert {d.format for d in docs.values()} == {"markdown", "html", "text", "pdf"}


def test_chunk_size_changes_the_chunks_of_every_structural_chunker():
    docs = rag.load_documents(CORPUS)
    for chunker in ("fixed", "recursive", "sentence"):
        small, large = (rag.chunk_documents(docs, chunker, size, 16) for size in (64, 256))
        assert len(small) > 1.5 * len(large), chunker
        assert all(c.n_tokens <= 64 for c in small) and all(c.n_tokens <= 256 for c in large)
    section = rag.chunk_documents(docs, "section", 256)
    assert all(c.heading_path.count(">") >= 1 for c in section if "## " in c.text)  # one section per chunk
    assert len(section) > len(rag.chunk_documents(docs, "recursive", 256))


def test_sentence_windows_share_their_last_sentences():
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    doc = rag.Document("d", "d.txt", "d", text, "text", [rag.loaders.Section((), 0, len(text))])
    chunks = rag.chunk_documents([doc], "sentence", chunk_size=40, overlap=12)
    assert len(chunks) > 4 and all(c.n_tokens <= 40 for c in chunks)
    for a, b in pairwise(chunks):
        assert a.start < b.start < a.end  # neighbours overlap by whole sentences
        assert b.text.startswith("Sentence number")
    assert chunks[-1].end == len(text)
