"""No silent wait over two seconds (issue 30): evaluations of any size, chat grids, index builds and the model
server's start say what they are doing once the wait passes 2 s; quick work prints nothing."""

import functools
import time

import numpy as np
import pytest

import workbench as wb
from workbench import progress
from workbench.candidates import CallableCandidate


@pytest.fixture(autouse=True)
def bars_on(monkeypatch):
    """The test suite sets TQDM_DISABLE=1 (read by tqdm at import); these tests need the bars."""
    import tqdm.auto
    import tqdm.std

    monkeypatch.setattr(tqdm.auto, "tqdm", functools.partial(tqdm.std.tqdm, disable=False))


def test_a_bar_shows_itself_after_two_seconds_even_before_a_step_ends(capsys):
    b = progress.bar(3, "slow work", "row")
    time.sleep(progress.QUIET_S + 0.6)
    shown = capsys.readouterr().err
    b.update(3)
    b.close()
    assert "slow work" in shown and "0/3" in shown
    quick = progress.bar(3, "quick work", "row")
    quick.update(3)
    quick.close()
    time.sleep(progress.QUIET_S + 0.3)
    assert "quick work" not in capsys.readouterr().err
    assert progress.bar(3, "off", enabled=False) is None


def test_waiting_is_silent_when_short_and_says_how_long_when_not(capsys):
    with progress.waiting("short", after=1.0):
        pass
    with progress.waiting("starting the thing", after=0.3):
        time.sleep(0.8)
    err = capsys.readouterr().err
    assert "short" not in err
    assert "[workbench] starting the thing…" in err and "starting the thing: ready in 0." in err


def test_a_small_slow_evaluation_shows_a_bar(tmp_path, capsys):
    """Three rows: before, no bar under 21 rows (one real evaluation ran 157 s without a word)."""

    def slow(row):
        time.sleep(1.0)
        return "a tent footprint protects the floor"

    ds = tmp_path / "qa.jsonl"
    ds.write_text("".join(f'{{"id": "q{i}", "question": "q{i}", "reference": "a"}}\n' for i in range(3)))
    res = wb.evaluate(
        ds,
        [CallableCandidate(slow, name="slow")],
        metrics=["quality/f1"],
        concurrency=1,
        log=False,
        checkpoint=tmp_path / "c.jsonl",
    )
    assert len(res.rows) == 3
    err = capsys.readouterr().err
    assert "eval" in err and "3/3" in err


def test_a_small_chat_grid_gets_a_bar():
    """Four calls (the 01 grid: 2 templates x 2 questions): before, no bar under 8 calls."""
    from workbench.llm.client import _progress

    b = _progress(4, None, "chat local")
    assert b is not None
    b.close()


def test_index_build_says_so_when_it_takes_time(monkeypatch, capsys, tmp_path):
    from workbench.llm import embeddings
    from workbench.rag.chunking import Chunk
    from workbench.rag.index import build_index

    chunks = [Chunk(f"c{i}", "d", "s", "T", "T", 0, 1, f"text {i}", 2) for i in range(3)]

    def slow_embed(self, texts, model=None, progress=None):
        time.sleep(progress_s)
        return np.eye(len(texts), 384, dtype=np.float32), len(texts)

    monkeypatch.setattr(embeddings.EmbeddingCache, "embed", slow_embed)
    progress_s = 0.0
    build_index(chunks, cache_path=tmp_path / "e.db")
    assert "index" not in capsys.readouterr().err  # quick: silent
    progress_s = 2.5
    build_index(chunks, cache_path=tmp_path / "e.db")
    err = capsys.readouterr().err
    assert "building the flat index of 3 chunks…" in err and "ready in 2." in err


def test_model_start_is_announced(monkeypatch, capsys, tmp_path):
    """Waiting for the shared server (started here, or by another process) says so; a running one is silent."""
    from workbench.llm import local

    monkeypatch.setenv("WORKBENCH_RUN_DIR", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_LOCAL_BASE_URL", raising=False)

    def bring_up(state_file, new_spec):
        time.sleep(delay)
        return local.ServerHandle(pid=-1, port=1, log_path="", options_key="k")

    monkeypatch.setattr(local, "_bring_up", bring_up)
    monkeypatch.setattr(local, "_SERVERS", {})
    delay = 2.6
    local.ensure_server(local.ServerOptions(alias="m"))
    err = capsys.readouterr().err
    assert "starting the local model (m)…" in err and "starting the local model (m): ready in 2." in err
    delay = 0.0
    local.ensure_server(local.ServerOptions(alias="m", parallel=2))
    assert "starting the local model" not in capsys.readouterr().err
