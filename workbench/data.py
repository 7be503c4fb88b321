"""Datasets: load JSONL, CSV, Parquet or a DataFrame; validate with errors that name file, line and column;
hash the content; log to MLflow as a dataset input for lineage.

Columns: an input — ``question`` (string) or ``messages`` (chat list of ``{"role", "content"}``) — and,
optionally, ``reference`` (string or list of strings), ``contexts`` (list of strings), ``gold_doc_ids``
(list of strings), ``id`` (unique; ``row-<n>`` when absent) and free ``tags``. Other columns are kept.
``schema={"question": "prompt", "reference": "answer"}`` maps our names to yours.

Besides files, a source ``SCHEME:NAME`` is read by the loader registered for ``SCHEME``
(:func:`register_dataset_source`): ``mlflow:NAME`` is the MLflow GenAI evaluation dataset ``NAME`` (for
example the rows harvested from served traces by :mod:`workbench.monitor.harvest`).

Nothing is written for an invalid dataset: loading is read-only and all errors are raised before any use.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from .config import NestingError, loads_json
from .errors import DatasetError

MAX_LINE_BYTES = 1 << 20  # 1 MiB per JSONL line / CSV record
LIST_COLUMNS = ("contexts", "gold_doc_ids")


@dataclass
class Dataset:
    """A validated dataset: ``df`` plus its name, source and content digest."""

    df: pd.DataFrame
    name: str
    source: str
    digest: str

    def __len__(self) -> int:
        return len(self.df)

    @property
    def rows(self) -> list[dict]:
        """Records with missing cells as None (not NaN), so ``row.get("contexts")`` is falsy when absent."""
        cols = list(self.df.columns)
        return [{c: r.get(c) for c in cols} for r in map(_missing_to_none, self.df.to_dict(orient="records"))]

    def head(self, n: int) -> Dataset:
        """The first ``n`` rows (all when ``n`` is 0 or None), re-hashed and named ``name[:n]``."""
        if not n or n >= len(self.df):
            return self
        df = self.df.head(n).reset_index(drop=True)
        return Dataset(df, f"{self.name}[:{n}]", self.source, content_digest(df))

    def filter(self, **equals) -> Dataset:
        """Rows whose columns equal the given values (e.g. ``split="test"``), re-hashed."""
        df = self.df
        for k, v in equals.items():
            if k not in df.columns:
                raise DatasetError(f"no column '{k}' to filter on; columns: {list(df.columns)}", self.source)
            df = df[df[k] == v]
        df = df.reset_index(drop=True)
        return Dataset(
            df, f"{self.name}[{','.join(f'{k}={v}' for k, v in equals.items())}]", self.source, content_digest(df)
        )


def _missing_to_none(rec: dict) -> dict:
    """Missing cells (NaN from pandas) as None; keys whose value is missing are dropped."""
    return {k: v for k, v in rec.items() if not (v is None or (isinstance(v, float) and v != v))}


def content_digest(df: pd.DataFrame) -> str:
    """sha256 over the canonical JSON of the rows, missing cells ignored (first 16 hex digits)."""
    h = hashlib.sha256()
    for rec in df.to_dict(orient="records"):
        h.update(json.dumps(_missing_to_none(rec), sort_keys=True, default=str, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def _type_name(v: Any) -> str:
    return {
        dict: "object",
        list: "list",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(v), type(v).__name__)


def _validate_row(rec: dict, file: str, line: int) -> dict:
    def bad(column: str, expected: str, value: Any):
        raise DatasetError(
            f"column '{column}': expected {expected}, found {_type_name(value)} {str(value)[:60]!r}", file, line
        )

    if "question" in rec and rec["question"] is not None:
        if not isinstance(rec["question"], str) or not rec["question"].strip():
            bad("question", "a non-empty string", rec["question"])
    elif "messages" in rec and rec["messages"] is not None:
        msgs = rec["messages"]
        if (
            not isinstance(msgs, list)
            or not msgs
            or not all(
                isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                for m in msgs
            )
        ):
            bad("messages", "a non-empty list of {role, content} objects", msgs)
    else:
        raise DatasetError(
            "missing required column: expected 'question' (string) or 'messages' (chat list); "
            f"found columns {sorted(rec)}",
            file,
            line,
        )
    ref = rec.get("reference")
    if ref is not None and not (
        isinstance(ref, str) or (isinstance(ref, list) and all(isinstance(r, str) for r in ref))
    ):
        bad("reference", "a string or a list of strings", ref)
    for col in LIST_COLUMNS:
        v = rec.get(col)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            bad(col, "a list of strings", v)
    if "id" in rec and not isinstance(rec["id"], (str, int)) or isinstance(rec.get("id"), bool):
        bad("id", "a string or an integer", rec["id"])
    tags = rec.get("tags")
    if tags is not None and not isinstance(tags, (dict, list, str)):
        bad("tags", "an object, a list or a string", tags)
    return rec


def _not_a_file(path: Path) -> str:
    """Why ``path`` (not a regular file) cannot be read as a dataset."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "file not found"
    except OSError as e:
        return f"cannot read ({e.strerror})"
    if stat.S_ISDIR(mode):
        return f"is a directory; expected a dataset file ({', '.join(sorted(READERS))}) inside it"
    kind = "a FIFO (named pipe)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else "a device"
    return f"not a regular file: {kind}; expected a JSONL, CSV or Parquet file on disk"


_LONE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")  # a surrogate's escape: check the decoded text


def _check_text(obj: Any, file: str, line: int) -> None:
    """A lone UTF-16 surrogate (valid JSON escape, not a character) cannot be stored or sent: refuse it."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise DatasetError(
            f"a string holds a lone UTF-16 surrogate ({e.object[e.start]!r}, a \\ud800-\\udfff "
            f"escape without its pair); expected text characters",
            file,
            line,
        ) from None


def _decode(raw: bytes, file: str, first_line: int = 1) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = first_line + raw[: e.start].count(b"\n")
        raise DatasetError(
            f"not UTF-8: byte 0x{raw[e.start]:02x} at offset {e.start}; expected UTF-8 text "
            f"(re-save the file as UTF-8)",
            file,
            line,
        ) from None


def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    raw = path.read_bytes()
    out = []
    for lineno, bline in enumerate(raw.split(b"\n"), start=1):
        if len(bline) > MAX_LINE_BYTES:
            raise DatasetError(
                f"line is {len(bline) / 1e6:.1f} MB, over the {MAX_LINE_BYTES // (1 << 20)} MiB "
                f"limit per record; expected one JSON object per line",
                str(path),
                lineno,
            )
        text = _decode(bline, str(path), lineno) if bline.strip() else ""
        if not text.strip():
            continue
        try:
            obj = loads_json(text)
        except json.JSONDecodeError as e:
            raise DatasetError(
                f"invalid JSON at column {e.colno}: {e.msg}; expected one JSON object per line", str(path), lineno
            ) from None
        except NestingError as e:
            raise DatasetError(f"{e}; expected one flat JSON object per line", str(path), lineno) from None
        if not isinstance(obj, dict):
            raise DatasetError(f"expected a JSON object, found {_type_name(obj)}", str(path), lineno)
        if "\\u" in text and _LONE_ESCAPE.search(text):
            _check_text(obj, str(path), lineno)
        out.append((lineno, obj))
    return out


def _cell(v: str) -> Any:
    s = v.strip()
    if s == "":
        return None
    if s[0] in "[{":
        try:
            return loads_json(s)
        except json.JSONDecodeError:
            return v
    return v


def _read_csv(path: Path) -> list[tuple[int, dict]]:
    raw = path.read_bytes()
    text = _decode(raw, str(path))
    csv.field_size_limit(MAX_LINE_BYTES)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    out = []
    try:
        for rec in reader:
            line = reader.line_num
            if None in rec:
                raise DatasetError(
                    f"{len(rec[None])} more field(s) than the {len(reader.fieldnames or ())} header columns",
                    str(path),
                    line,
                )
            try:
                row = {k: _cell(v) if isinstance(v, str) else v for k, v in rec.items()}
            except NestingError as e:
                raise DatasetError(
                    f"a JSON cell is {e}; expected a list or object at most a few levels deep", str(path), line
                ) from None
            if "id" in row and isinstance(row["id"], str) and row["id"].strip().lstrip("-").isdigit():
                row["id"] = row["id"].strip()
            out.append((line, row))
    except csv.Error as e:
        raise DatasetError(f"invalid CSV: {e}", str(path), reader.line_num) from None
    return out


def _read_parquet(path: Path) -> list[tuple[int, dict]]:
    try:
        df = pd.read_parquet(path)
    except Exception as e:  # noqa: BLE001 - pyarrow raises many types for corrupt files
        raise DatasetError(f"unreadable Parquet file ({type(e).__name__}: {str(e)[:120]})", str(path)) from None

    def plain(v):  # numpy arrays (list columns, and lists inside struct columns) as Python lists
        if hasattr(v, "tolist"):
            v = v.tolist()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, float) and v != v:
            return None
        return v

    return [(i + 1, {k: plain(v) for k, v in rec.items()}) for i, rec in enumerate(df.to_dict(orient="records"))]


READERS = {".jsonl": _read_jsonl, ".ndjson": _read_jsonl, ".csv": _read_csv, ".parquet": _read_parquet}


def _read_mlflow(name: str) -> list[tuple[int, dict]]:
    """The records of the MLflow GenAI evaluation dataset ``name`` as rows: ``question``/``messages`` from the
    inputs, ``reference`` and ``gold_doc_ids`` from the expectations, ``served_answer`` from the outputs, the
    record's tags as columns (``id``, ``source_trace_id``, ``label``...), and ``record_id``."""
    from mlflow.genai.datasets import get_dataset

    from . import tracking

    tracking.configure()
    try:
        df = get_dataset(name=name).to_df()
    except Exception as e:  # noqa: BLE001 - MLflow raises several types for an unknown name
        raise DatasetError(
            f"no MLflow evaluation dataset named {name!r} in {tracking.tracking_uri()} "
            f"({type(e).__name__}: {str(e)[:200]})",
            f"mlflow:{name}",
        ) from None
    rows = []
    for i, rec in enumerate(df.to_dict(orient="records")):
        exp, out = rec.get("expectations") or {}, rec.get("outputs")
        row = {**(rec.get("tags") or {}), **(rec.get("inputs") or {}), "record_id": rec.get("dataset_record_id")}
        if exp.get("expected_response") is not None:
            row["reference"] = exp["expected_response"]
        if exp.get("gold_doc_ids"):
            row["gold_doc_ids"] = list(exp["gold_doc_ids"])
        if out is not None:
            row["served_answer"] = out.get("served_answer", out) if isinstance(out, dict) else out
        rows.append((i + 1, row))
    return rows


# SCHEME → loader(name) -> [(record number, row)]: sources that are not files
SOURCES: dict[str, Any] = {"mlflow": _read_mlflow}


def register_dataset_source(scheme: str, loader) -> None:
    """Read ``SCHEME:NAME`` dataset sources with ``loader(name) -> [(record number, row dict)]``."""
    SOURCES[scheme] = loader


def load_dataset(
    source: str | Path | pd.DataFrame, schema: Mapping[str, str] | None = None, name: str | None = None
) -> Dataset:
    """Load and validate a dataset. Raises :class:`DatasetError` (file, line, column, expected, found)."""
    if isinstance(source, Dataset):
        return source
    if isinstance(source, pd.DataFrame):
        file = "<dataframe>"
        records = [(i + 1, _missing_to_none(r)) for i, r in enumerate(source.to_dict(orient="records"))]
        label = "row"
    elif isinstance(source, str) and source.partition(":")[0] in SOURCES and source.partition(":")[2]:
        scheme, _, ref = source.partition(":")
        file, label = source, "record"
        records = SOURCES[scheme](ref)
        name = name or ref
    else:
        path = Path(source)
        file = str(path)
        if not path.is_file():
            raise DatasetError(_not_a_file(path), file)
        reader = READERS.get(path.suffix.lower())
        if reader is None:
            raise DatasetError(f"unknown format '{path.suffix}': expected one of {sorted(READERS)}", file)
        records = reader(path)
        label = "row" if path.suffix.lower() == ".parquet" else "line"
    if not records:
        raise DatasetError("empty dataset: expected at least one record", file)
    rename = {theirs: ours for ours, theirs in (schema or {}).items()}
    rows: list = []
    seen: dict = {}
    for n, (line, rec) in enumerate(records):
        rec = {rename.get(k, k): v for k, v in rec.items()}
        rec = _validate_row(rec, file, line)
        if rec.get("id") is None:
            rec["id"] = f"row-{n + 1}"
        rid = str(rec["id"])
        if rid in seen:
            raise DatasetError(
                f"duplicate id {rid!r} (first seen at {label} {seen[rid]}); expected unique ids", file, line
            )
        seen[rid] = line
        rec["id"] = rid
        rows.append(rec)
    df = pd.DataFrame(rows)
    return Dataset(
        df=df,
        name=name or (Path(file).stem if file != "<dataframe>" else "dataframe"),
        source=file,
        digest=content_digest(df),
    )


def _jsonable(v: Any) -> Any:
    """``json.dumps`` fallback for numpy values (arrays, scalars) inside nested cells."""
    return v.tolist() if hasattr(v, "tolist") else str(v)


def log_dataset(ds: Dataset, context: str = "eval", run_id: str | None = None) -> None:
    """Record ``ds`` on the MLflow run as a dataset input (name, digest, source)."""
    from . import tracking

    df = ds.df.copy()
    for col in df.columns:  # MLflow's schema inference wants flat values
        if df[col].map(lambda v: isinstance(v, (list, dict)) or hasattr(v, "tolist")).any():
            df[col] = df[col].map(
                lambda v: json.dumps(v, ensure_ascii=False, default=_jsonable) if v is not None else None
            )
    # a SCHEME:NAME source (mlflow:NAME) is no URI MLflow's dataset sources resolve: the input then names the
    # dataset and its digest, and the source is tagged on the run (workbench.lineage.dataset) by its caller
    source = None if ds.source.partition(":")[0] in SOURCES else ds.source
    tracking.log_dataset(df, name=ds.name, source=source, context=context, digest=ds.digest, run_id=run_id)
