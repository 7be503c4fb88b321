"""Held-out dataset probes (issue 21): a directory or FIFO path, a lone surrogate in a JSONL string, a Parquet
file with a nested-struct column logged as an MLflow dataset."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from workbench.data import load_dataset, log_dataset
from workbench.errors import DatasetError


def test_a_directory_is_not_file_not_found(tmp_path):
    with pytest.raises(DatasetError, match="is a directory") as e:
        load_dataset(tmp_path)
    assert "not found" not in str(e.value)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "rows.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DatasetError, match="not a regular file") as e:
        load_dataset(fifo)
    assert "not found" not in str(e.value) and "FIFO" in str(e.value)


def test_lone_surrogate_in_jsonl_names_file_and_line(tmp_path):
    p = tmp_path / "qa.jsonl"
    p.write_text('{"question": "fine \\ud83d\\ude80"}\n{"question": "bad \\ud800 here"}\n')  # a pair, then a lone one
    with pytest.raises(DatasetError) as e:
        load_dataset(p)
    assert f"{p}:2:" in str(e.value) and "surrogate" in str(e.value)
    p.write_text('{"question": "fine \\ud83d\\ude80"}\n')
    assert load_dataset(p).rows[0]["question"] == "fine 🚀"


def test_parquet_with_a_nested_struct_column_is_logged(tmp_path, tracking_store):
    from workbench import tracking

    p = tmp_path / "nested.parquet"
    pd.DataFrame(
        {
            "question": ["q1?", "q2?"],
            "reference": ["a", "b"],
            "meta": [{"source": "faq", "scores": [1.0, 2.0]}, {"source": "kb", "scores": [3.0]}],
        }
    ).to_parquet(p)
    ds = load_dataset(p)
    assert ds.rows[0]["meta"] == {"source": "faq", "scores": [1.0, 2.0]}  # plain Python, not numpy arrays
    rid = tracking.client().create_run(tracking.experiment_id()).info.run_id
    log_dataset(ds, run_id=rid)
    assert [d.dataset.name for d in tracking.client().get_run(rid).inputs.dataset_inputs] == ["nested"]
