"""Bad datasets, fuzzed (hypothesis): random bytes, truncated lines, wrong types, odd encodings, huge lines.
Every outcome is a valid load or a DatasetError naming the file (and a line when there is one) — never an
unhandled exception, never a file written."""

import json
import os

from hypothesis import HealthCheck, given, settings, strategies as st

import workbench as wb
from workbench.errors import DatasetError
from workbench.finetune import validate_file

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
    max_leaves=12,
)
records = st.dictionaries(
    st.sampled_from(["question", "reference", "contexts", "id", "tags", "messages", "x"]), json_values, max_size=5
)


def check_load(path):
    before = set(os.listdir(path.parent))
    try:
        ds = wb.load_dataset(path)
        assert len(ds) > 0 and ds.digest
    except DatasetError as e:
        assert e.file == str(path) and str(e).startswith(str(path)) and "\n" not in str(e)
    assert set(os.listdir(path.parent)) == before


@SETTINGS
@given(data=st.binary(max_size=2000))
def test_random_bytes_jsonl_and_csv(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fz")
    for name in ("d.jsonl", "d.csv"):
        (d / name).write_bytes(data)
        check_load(d / name)


@SETTINGS
@given(rows=st.lists(records, min_size=1, max_size=6), cut=st.integers(min_value=0, max_value=400))
def test_structured_but_wrong_and_truncated(tmp_path_factory, rows, cut):
    d = tmp_path_factory.mktemp("fz")
    text = "\n".join(json.dumps(r) for r in rows)
    (d / "full.jsonl").write_text(text)
    (d / "cut.jsonl").write_text(text[:cut])
    check_load(d / "full.jsonl")
    check_load(d / "cut.jsonl")


@SETTINGS
@given(text=st.text(max_size=300), enc=st.sampled_from(["utf-16", "latin-1", "utf-8", "cp1252"]))
def test_odd_encodings(tmp_path_factory, text, enc):
    d = tmp_path_factory.mktemp("fz")
    line = json.dumps({"question": text or "q"}, ensure_ascii=False)
    try:
        (d / "e.jsonl").write_bytes(line.encode(enc))
    except UnicodeEncodeError:
        return
    check_load(d / "e.jsonl")


@SETTINGS
@given(
    data=st.binary(max_size=1500)
    | st.lists(json_values, max_size=5).map(lambda v: "\n".join(json.dumps(x) for x in v).encode())
)
def test_finetune_validator_never_crashes(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("fz")
    (d / "t.jsonl").write_bytes(data)
    rep = validate_file(d / "t.jsonl")
    assert all(f.file == str(d / "t.jsonl") and f.line >= 1 for f in rep.errors)
    assert rep.render()
    assert os.listdir(d) == ["t.jsonl"] and (d / "t.jsonl").read_bytes() == data  # nothing written, input intact


cells = st.one_of(st.text(max_size=30), st.integers().map(str), st.just(""), st.text(alphabet='",\n\r;', max_size=6))


@SETTINGS
@given(
    header=st.lists(
        st.sampled_from(["question", "reference", "id", "contexts", "tags", "", "x", "question"]),
        min_size=1,
        max_size=5,
    ),
    rows=st.lists(st.lists(cells, max_size=7), max_size=6),
    cut=st.integers(min_value=0, max_value=300),
)
def test_structured_csv_ragged_quoted_truncated(tmp_path_factory, header, rows, cut):
    import csv
    import io

    d = tmp_path_factory.mktemp("fz")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)  # ragged rows, duplicate or empty column names, quotes and newlines inside cells
    (d / "full.csv").write_text(buf.getvalue())
    (d / "cut.csv").write_text(buf.getvalue()[:cut])
    check_load(d / "full.csv")
    check_load(d / "cut.csv")


def test_huge_line_is_one_error(tmp_path):
    p = tmp_path / "h.jsonl"
    p.write_text('{"question": "' + "y" * (12 * 1024 * 1024) + '"}\n')
    try:
        wb.load_dataset(p)
        raise AssertionError("a 12 MB line must be refused")
    except DatasetError as e:
        assert e.line == 1
