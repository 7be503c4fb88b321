"""Held-out secret probes (issue 21): credential words inside names and with digits, URL userinfo, extra secret
names from workbench.toml, the CLI's error text, big artifacts, the evaluation checkpoint, quarantine of a leaked
artifact, and the served app's error bodies. Fast: no model, no notebook kernel (except where marked slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from workbench import secrets as S, tags as T

KEY = "sk-test-" + "Hq4" * 12


@pytest.mark.parametrize(
    "name",
    [
        "DBPASSWORD",
        "GITHUB_PAT",
        "MY_SECRET2",
        "api_key2",
        "openaikey",
        "secretkey",
        "dbpassword",
        "AWS_SECRET_ACCESS_KEY",
        "hfToken",
        "SLACK_TOKEN3",
        "DB_PWD",
        "mysqlpasswd",
        "ACCESSTOKEN",
    ],
)
def test_credential_words_inside_names_and_with_digits(name):
    assert S.is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "max_tokens",
        "top_k",
        "PWD",
        "OLDPWD",
        "n_tokens",
        "keywords",
        "monkey_count",
        "path",
        "PATH",
        "tokenizer",
        "spatial",
    ],
)
def test_ordinary_names_are_not_credentials(name):
    assert not S.is_secret_name(name), name


def test_url_userinfo_is_a_secret_and_masked(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://admin:hunter2hunter2@db.internal:5432/app")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    vals = S.secret_values()
    assert "hunter2hunter2" in vals and "user:pw@127.0.0.1:9" in vals  # a short password counts with its host
    assert "user:pw" not in vals  # alone it would match ordinary text
    assert S.mask_url("http://user:pw@127.0.0.1:9/v1") == "http://***@127.0.0.1:9/v1"
    assert "pw" not in S.scrub("base http://user:pw@127.0.0.1:9/v1").replace("http", "")
    from workbench.models import endpoint_table

    table = endpoint_table(check_health=False).to_string()
    assert "user:pw" not in table and "***@127.0.0.1:9" in table


def test_workbench_toml_lists_more_secret_names(workbench_toml, monkeypatch):
    monkeypatch.setenv("CONTOSO_LICENCE", "lic-0123456789abcdef")
    assert "lic-0123456789abcdef" not in S.secret_values()
    workbench_toml('[secrets]\nnames = ["CONTOSO_LICENCE"]\n')
    assert "lic-0123456789abcdef" in S.secret_values() and S.is_secret_name("CONTOSO_LICENCE")


def test_credential_named_parameters_are_refused(fixture_notebook):
    from workbench.errors import WorkbenchError
    from workbench.runs.notebook import resolve_parameters

    for name in ("dbpassword", "api_key2", "openaikey", "secretkey"):
        with pytest.raises(WorkbenchError, match="credential"):
            resolve_parameters(fixture_notebook, {name: "x"})
    resolve_parameters(fixture_notebook, {"n": "3"})  # ordinary names still pass


def test_cli_never_prints_a_key(monkeypatch, capsys, tmp_path):
    """An error whose text holds the key (here: an unknown model named after it) is printed scrubbed."""
    from workbench.cli import main

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ds = tmp_path / "qa.jsonl"
    ds.write_text('{"question": "q?"}\n')
    rc = main(["eval", "--dataset", str(ds), "--model", f"nowhere{KEY}", "--dry-run"])
    err = capsys.readouterr().err
    assert rc != 0 and KEY not in err and "***" in err


def test_tracked_run_error_is_scrubbed_for_the_caller(tracking_store, monkeypatch):
    from workbench.lifecycle import tracked_run

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    with tracked_run("eval", "leaky") as run:
        run.fail(f"upstream said: invalid key {KEY}")
    assert KEY not in run.error and run.status == "FAILED"


def _run_with_artifact(tmp_path, name: str, data: bytes) -> str:
    from workbench import tracking

    c = tracking.client()
    rid = c.create_run(tracking.experiment_id()).info.run_id
    f = tmp_path / Path(name).name
    f.write_bytes(data)
    tracking.log_artifact(f, str(Path(name).parent), run_id=rid)
    return rid


def test_scan_reads_big_files_in_chunks(tracking_store, tmp_path, monkeypatch):
    from workbench.governance import scan_run

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:  # a sparse 300 MiB file with the key at the end, across a chunk border
        f.truncate(300 * 2**20 - len(KEY) // 2)
        f.seek(0, os.SEEK_END)
        f.write(KEY.encode())
    res = scan_run(_run_with_artifact(tmp_path, "debug/x.txt", b"clean"), extra_files=[big])
    assert any("OPENAI_API_KEY" in h and "big.bin" in h for h in res.hits), res.hits


def test_scan_reads_the_runs_evaluation_checkpoint(tracking_store, tmp_path, monkeypatch):
    from workbench import tracking
    from workbench.governance import scan_run

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ck = tmp_path / "evals" / "qa-123.jsonl"
    ck.parent.mkdir()
    ck.write_text(json.dumps({"key": "a", "error_message": f"401 bad key {KEY}"}) + "\n")
    rid = _run_with_artifact(tmp_path, "x/clean.txt", b"clean")
    tracking.set_tags({T.EVAL_CHECKPOINT: str(ck)}, rid)
    res = scan_run(rid)
    assert any("qa-123.jsonl" in h for h in res.hits), res.hits


def test_checkpoint_rows_are_scrubbed_before_writing(tmp_path, monkeypatch):
    from workbench.evaluate.engine import Checkpoint

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    ck = Checkpoint(tmp_path / "c.jsonl")
    ck.write({"key": "a", "error_message": f"Incorrect API key provided: {KEY}"})
    ck.close()
    assert KEY not in (tmp_path / "c.jsonl").read_text()


def test_a_leaked_artifact_is_deleted_and_the_note_says_so(tracking_store, tmp_path, monkeypatch):
    from workbench import tracking
    from workbench.governance import govern_run

    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    rid = _run_with_artifact(tmp_path, "debug/leak.txt", f"key={KEY}".encode())
    gov = govern_run(rid)
    assert gov.error and "debug/leak.txt" in gov.error and "deleted" in gov.error
    assert "debug/leak.txt" not in [a.path for a in tracking.client().list_artifacts(rid, "debug")]
    assert "deleted" in tracking.client().get_run(rid).data.tags[T.SECRET_SCAN]


def test_card_masks_url_userinfo(tracking_store, monkeypatch):
    from workbench import tracking
    from workbench.governance import build_card

    monkeypatch.setenv("OPENAI_BASE_URL", "http://user:pw@127.0.0.1:9/v1")
    c = tracking.client()
    rid = c.create_run(tracking.experiment_id()).info.run_id
    tracking.log_params({"model": "openai:gpt-4o-mini"}, rid)
    card = build_card(rid)
    assert "user:pw" not in card and "***@127.0.0.1:9" in card
