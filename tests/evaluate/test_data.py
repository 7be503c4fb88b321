"""Dataset loading and validation: every bad input is a one-line DatasetError naming file and line."""

import json

import pandas as pd
import pytest

import workbench as wb
from workbench.errors import DatasetError


def write(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content if isinstance(content, bytes) else content.encode())
    return p


GOOD = [
    {"id": "a", "question": "Q1?", "reference": "R1", "contexts": ["c1", "c2"]},
    {"id": "b", "question": "Q2?", "reference": ["R2", "R2b"]},
    {"id": "c", "messages": [{"role": "user", "content": "hi"}], "tags": {"k": "v"}},
]


def test_jsonl_csv_parquet_and_dataframe_agree(tmp_path):
    jl = write(tmp_path, "d.jsonl", "\n".join(json.dumps(r) for r in GOOD) + "\n")
    ds = wb.load_dataset(jl)
    assert len(ds) == 3 and ds.rows[0]["contexts"] == ["c1", "c2"] and ds.rows[1]["contexts"] is None
    df = pd.DataFrame(GOOD)
    assert wb.load_dataset(df).digest == ds.digest
    pq = tmp_path / "d.parquet"
    pd.DataFrame([{**GOOD[0], "reference": ["R1"]}, GOOD[1]]).to_parquet(pq)
    assert wb.load_dataset(pq).rows[1]["reference"] == ["R2", "R2b"]
    csvp = write(tmp_path, "d.csv", 'id,question,reference,contexts\n1,"Q, with comma",R,"[""x"", ""y""]"\n2,Q2,R2,\n')
    rows = wb.load_dataset(csvp).rows
    assert rows[0]["question"] == "Q, with comma" and rows[0]["contexts"] == ["x", "y"] and rows[0]["id"] == "1"


def test_ids_generated_and_digest_stable(tmp_path):
    p = write(tmp_path, "d.jsonl", '{"question": "a"}\n{"question": "b"}\n')
    a, b = wb.load_dataset(p), wb.load_dataset(p)
    assert [r["id"] for r in a.rows] == ["row-1", "row-2"] and a.digest == b.digest
    p2 = write(tmp_path, "e.jsonl", '{"question": "a"}\n{"question": "c"}\n')
    assert wb.load_dataset(p2).digest != a.digest


def test_schema_mapping(tmp_path):
    p = write(tmp_path, "d.jsonl", '{"prompt": "a", "answer": "b"}\n')
    row = wb.load_dataset(p, schema={"question": "prompt", "reference": "answer"}).rows[0]
    assert row["question"] == "a" and row["reference"] == "b"


@pytest.mark.parametrize(
    "name,content,line,words",
    [
        ("bad.jsonl", '{"question": "a"}\n{"question": "b",\n', 2, "invalid JSON"),
        ("missing.jsonl", '{"question": "a"}\n{"answer": "b"}\n', 2, "missing required column"),
        ("type.jsonl", '{"question": "a", "reference": 3}\n', 1, "column 'reference': expected a string or a list"),
        ("ctx.jsonl", '{"question": "a", "contexts": "not a list"}\n', 1, "column 'contexts': expected a list"),
        (
            "dup.jsonl",
            '{"id": "x", "question": "a"}\n{"id": "y", "question": "a"}\n{"id": "x", "question": "b"}\n',
            3,
            "duplicate id 'x' (first seen at line 1)",
        ),
        ("array.jsonl", "[1, 2]\n", 1, "expected a JSON object"),
        ("utf.jsonl", b'{"question": "a"}\n{"question": "caf\xe9"}\n', 2, "not UTF-8"),
        ("wide.csv", "question,reference\na,b,c\n", 2, "more field"),
    ],
)
def test_bad_inputs_name_file_and_line(tmp_path, name, content, line, words):
    p = write(tmp_path, name, content)
    with pytest.raises(DatasetError) as e:
        wb.load_dataset(p)
    msg = str(e.value)
    assert e.value.file == str(p) and e.value.line == line
    assert msg.startswith(f"{p}:{line}: ") and words in msg and "\n" not in msg


def test_empty_and_huge_line_and_unknown_format(tmp_path):
    with pytest.raises(DatasetError, match="empty dataset"):
        wb.load_dataset(write(tmp_path, "empty.jsonl", "\n\n"))
    huge = '{"question": "a"}\n{"question": "' + "x" * (10 * 1024 * 1024) + '"}\n'
    with pytest.raises(DatasetError) as e:
        wb.load_dataset(write(tmp_path, "huge.jsonl", huge))
    assert e.value.line == 2 and "MiB limit" in str(e.value)
    with pytest.raises(DatasetError, match="unknown format"):
        wb.load_dataset(write(tmp_path, "d.txt", "x"))
    with pytest.raises(DatasetError, match="file not found"):
        wb.load_dataset(tmp_path / "nope.jsonl")


def test_invalid_dataset_writes_nothing(tmp_path, project_dir):
    # what the failed call wrote: new paths, and files whose content changed. An earlier test's sqlite connection
    # left for the garbage collector, closed during the call, checkpointed embeddings.db and removed its -wal and
    # -shm (CI, Python 3.13, twice on 2026-12-05): collect it first, so nothing but the call changes the files
    import gc

    def files():
        return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in project_dir.rglob("*") if p.is_file()}

    gc.collect()
    before = files()
    with pytest.raises(DatasetError):
        wb.evaluate(write(tmp_path, "bad.jsonl", "{oops\n"), "local", log=False)
    after = files()
    sidecar = (".db-wal", ".db-shm", ".db-journal")
    written = {p for p in after if before.get(p) != after[p] and not p.name.endswith(sidecar)}
    assert not written, written
