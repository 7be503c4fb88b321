"""Round-3 probes of bad input (issue 33, and issue 26 item 6): PII written in other ways, things that only look
like PII, datasets and YAML nested thousands deep, a broken or wrong-typed workbench.toml. Each must be found
(PII) or refused with a clear error naming the file and line and the documented exit code — never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench import pii

ROOT = Path(pii.__file__).resolve().parents[1]  # the workbench under test (a subprocess runs the same one)
EXIT_ERROR = 4  # workbench.cli: a workbench error (bad dataset, config or model name)

# (text, kind, value): written in ways the detectors missed before
FOUND = [
    ("Card 4111.1111.1111.1111 on file.", "card", "4111.1111.1111.1111"),
    ("Card 5500  0000  0000  0004 on file.", "card", "5500  0000  0000  0004"),
    ("Pay to de89 3704 0044 0532 0130 00 please", "iban", "de89 3704 0044 0532 0130 00"),
    ("Pay to DE89-3704-0044-0532-0130-00 please", "iban", "DE89-3704-0044-0532-0130-00"),
    ("iban: fr14 2004 1010 0505 0001 3m02 606 thanks", "iban", "fr14 2004 1010 0505 0001 3m02 606"),
    ("Write to josé.garcía@correo.es today", "email", "josé.garcía@correo.es"),
    ("Write to 用户@例子.广告 today", "email", "用户@例子.广告"),
    ("Mail seán.o'brien@example.ie now", "email", "seán.o'brien@example.ie"),
    ("Quoted: 'bob@example.com'.", "email", "bob@example.com"),
    ("Ring our Rome office on 06 6988 4857.", "phone", "06 6988 4857"),
    ("Madrid desk: 912 345 678.", "phone", "912 345 678"),
    ("Amsterdam 020 123 4567", "phone", "020 123 4567"),
    ("Sydney (02) 9374 4000", "phone", "(02) 9374 4000"),
    ("Tokyo 03-1234-5678", "phone", "03-1234-5678"),
]
# look like PII, are not
NOT_PII = [
    "The winning numbers were 4 8 15 16 23 42 this week.",
    "Lotto: 07 14 21 28 35 42 and bonus 09.",
    "Numbers 03 12 19 27 33 41 08 15 drawn.",
    "Serial GB12 ABCD 1234 5678 9012 34 on the box.",
    "Part DE00 1234 5678 9012 3456 78 shipped.",
    "Reference 4111 1111 1111 1112 is not a card (Luhn).",
    "The code is 12345678.",
]


@pytest.mark.parametrize("text,kind,value", FOUND)
def test_pii_written_other_ways_is_found_and_redacted(text, kind, value):
    assert (kind, value) in pii.find_pii(text), pii.find_pii(text)
    assert value not in pii.redact(text) and f"[{kind.upper()}]" in pii.redact(text)


@pytest.mark.parametrize("text", NOT_PII)
def test_things_shaped_like_pii_are_not_taken_for_it(text):
    assert pii.find_pii(text) == [], pii.find_pii(text)


def test_iban_and_card_checksums():
    assert pii.iban_ok("GB82 WEST 1234 5698 7654 32") and not pii.iban_ok("GB82 WEST 1234 5698 7654 33")
    assert pii.card_ok("4111 1111 1111 1111") and not pii.card_ok("41 11 11 11 11 11 11 11")


def _cli(args, cwd: Path, **env) -> subprocess.CompletedProcess:
    e = {**os.environ, "PYTHONPATH": str(ROOT), "WORKBENCH_PROJECT_DIR": str(cwd), **env}
    return subprocess.run(
        [sys.executable, "-m", "workbench", *args], cwd=cwd, env=e, capture_output=True, text=True, timeout=300
    )


DEEP = 5000


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_dataset_row_nested_thousands_deep_is_a_clear_error(tmp_path, fmt):
    """Regression: a row nested 5,000 deep escaped as RecursionError."""
    from workbench.data import load_dataset
    from workbench.errors import DatasetError

    deep = "[" * DEEP + "]" * DEEP
    p = tmp_path / f"qa.{fmt}"
    if fmt == "jsonl":
        p.write_text(json.dumps({"question": "ok?"}) + "\n" + '{"question": "q", "tags": ' + deep + "}\n")
        line = 2
    else:
        p.write_text(f'question,tags\nok?,[]\nq,"{deep}"\n')
        line = 3
    with pytest.raises(DatasetError, match="nested too deeply") as e:
        load_dataset(p)
    assert e.value.line == line and e.value.file == str(p)
    out = _cli(["eval", "--dataset", str(p), "--model", "local", "--dry-run"], tmp_path)
    assert out.returncode == EXIT_ERROR and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert f"{p}:{line}:" in out.stderr and "nested too deeply" in out.stderr


def test_finetune_validate_reports_a_nested_example(tmp_path):
    from workbench.finetune.validate import validate_file

    ok = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    p = tmp_path / "train.jsonl"
    p.write_text(json.dumps(ok) + "\n" + '{"messages": ' + "[" * DEEP + "]" * DEEP + "}\n")
    rep = validate_file(p)
    assert [(f.line, f.rule) for f in rep.errors] == [(2, "invalid_json")] and "nested" in rep.errors[0].message


def test_yaml_nested_thousands_deep_is_a_clear_error(tmp_path):
    """Regression: alert rules nested 5,000 deep printed a 3,000-line traceback."""
    p = tmp_path / "rules.yaml"
    p.write_text("experiment: x\nrules:\n  - " + "[" * DEEP + "]" * DEEP + "\n")
    out = _cli(["monitor", "--rules", str(p)], tmp_path)
    assert out.returncode == EXIT_ERROR and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert f"{p}:3:" in out.stderr and len(out.stderr.splitlines()) <= 3, out.stderr


def test_a_workbench_toml_syntax_error_is_one_clear_line(tmp_path):
    """Regression: a syntax error printed a 26-line traceback (the error printer re-read the broken file while
    scrubbing) and exited 1, with no line number."""
    (tmp_path / "workbench.toml").write_text('[endpoints.x]\nbase_url = "http://127.0.0.1:9/v1"\nmodels = [\n')
    out = _cli(["models"], tmp_path)
    assert out.returncode == EXIT_ERROR, (out.returncode, out.stderr[-2000:])
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{tmp_path / 'workbench.toml'}:" in lines[0] and "invalid TOML" in lines[0], lines


@pytest.mark.parametrize(
    "toml,key,expected",
    [
        (
            '[endpoints.x]\nbase_url = "http://127.0.0.1:9/v1"\nmax_concurrency = "four"\n',
            "max_concurrency",
            "positive integer",
        ),
        ('[privacy]\nredact_pii = "false"\n', "redact_pii", "true or false"),
        ("[tracing]\nenabled = 1\n", "enabled", "true or false"),
        ('[endpoints.x]\nbase_url = "http://127.0.0.1:9/v1"\ntimeout_s = "slow"\n', "timeout_s", "positive number"),
    ],
)
def test_a_wrong_typed_setting_names_file_line_key_and_type(tmp_path, toml, key, expected):
    """Regression: max_concurrency = "four" gave a raw ValueError traceback; redact_pii = "false" was read as
    true."""
    (tmp_path / "workbench.toml").write_text(toml)
    line = next(i for i, s in enumerate(toml.splitlines(), 1) if s.startswith(key))
    out = _cli(["models"], tmp_path)
    assert out.returncode == EXIT_ERROR and "Traceback" not in out.stderr, out.stderr[-2000:]
    assert f"workbench.toml:{line}:" in out.stderr and key in out.stderr and expected in out.stderr, out.stderr
