"""The evaluation engine: what every executor of an evaluation shares.

* :class:`MetricEnv` — what metric functions may use (cached embeddings, the judge, moderation);
* :func:`score_row` — every metric on one answer (a metric bug becomes a ``metric_error`` value, never a crash);
* :func:`row_key`, :class:`Checkpoint`, :func:`read_checkpoint` — the append-only JSONL checkpoint that makes
  an evaluation resumable (a truncated last line is ignored);
* :func:`run_jobs` — the async job loop: a fixed pool of workers pulls (row, candidate, repeat) jobs lazily
  (memory stays flat for 100k rows), checkpoints each finished row and stops at the budget;
* :class:`EvalPlan` — one evaluation, decided once by the front door and handed to every executor;
* :func:`run_local` — the ``local`` executor's way to run an evaluation (this process). *Where* work runs is
  the one registry of :mod:`workbench.executors` (shared with sweeps); any other executor runs the rows in
  partitions on its pool (:mod:`workbench.evaluate.distributed`).

The front door :func:`workbench.evaluate.evaluate` (``runner.py``) builds the jobs and calls an executor; the
monitor (sampled scoring of served traffic) and the distributed executor use the same parts.
"""

from __future__ import annotations

import asyncio
import collections
import inspect
import itertools
import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Set as AbstractSet
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..candidates import Answer, Candidate
from ..config import settings
from ..data import Dataset
from ..errors import WorkbenchError
from ..executors import register_executor
from ..llm.budget import CURRENT_TAB, Budget, Tab, to_nano
from ..llm.client import LLMClient, run_sync
from ..options import check_options
from ..progress import bar as progress_bar
from ..secrets import scrub, secret_values
from .judge import Judge
from .metrics import MetricDef
from .record import row_trace


@dataclass(frozen=True)
class EvalPlan:
    """One evaluation, decided once by the front door (:func:`workbench.evaluate.evaluate`) and handed to the
    engine and every executor: what is evaluated (dataset, candidates, metrics, repeats, judge), under which limits
    (budget, concurrency, cache), where it runs (executor, scheduler, workers, partition rows), where its rows are
    kept (checkpoint, resume) and how it is recorded (log, run id, trace, progress).

    The fields after ``metrics`` are the options of ``wb.evaluate`` (:meth:`options`); ``key`` and the resolved
    ``checkpoint`` path are filled in by the front door. (Not :mod:`workbench.evaluate.plan`, which is *power*
    planning: how many rows a comparison needs.)"""

    dataset: Dataset
    candidates: tuple[Candidate, ...]
    metrics: tuple[MetricDef, ...]
    repeats: int = 1
    judge: str | None = None  # "endpoint:model" of the LLM judge (judged metrics need one)
    budget_usd: float | None = None  # a hard cap on what the evaluation spends (needs a price for every model)
    concurrency: int | None = None  # rows in flight; None: the endpoints' own ``max_concurrency``
    cache: str = "use"  # the response cache mode: "use", "refresh" or "off"
    embed_model: str | None = None  # the embedding model of similarity metrics (default: the offline one)
    checkpoint: Path | None = None  # the rows' JSONL; None: .workbench/evals/<dataset>-<key>.jsonl
    resume: bool = True  # reuse the checkpoint's finished rows (False: start it again)
    log: bool = True  # record the evaluation in MLflow
    run_id: str | None = None  # the MLflow run to record into (default: the launching/active run, else a new one)
    trace: bool = True  # a trace per evaluated row, with its assessments
    progress: bool | None = None  # a progress bar (None: once the rows have taken 2 s, whatever their number)
    executor: str = "local"  # where the rows run: a name in workbench.executors.EXECUTORS ("local", "dask", ...)
    scheduler: str | None = None  # the Dask scheduler's address (executor="dask"; None: a local cluster)
    workers: int | None = None  # workers of the executor's pool (None: 2)
    partition_rows: int | None = None  # rows per task on a pool (None: chosen from the rows and the workers)
    key: str = ""  # the checkpoint key (dataset, candidates, endpoints, metrics, repeats, judge, store)

    @property
    def checkpoint_path(self) -> Path:
        """The rows' JSONL (``make_plan`` fills in the default); an error on a plan built without it."""
        if self.checkpoint is None:
            raise WorkbenchError("this evaluation plan has no checkpoint path: build it with runner.make_plan")
        return Path(self.checkpoint)

    @classmethod
    def options(cls) -> tuple[str, ...]:
        """The fields a caller sets by keyword (``wb.evaluate(..., NAME=value)``), in declaration order."""
        return tuple(f.name for f in fields(cls) if f.name not in ("dataset", "candidates", "metrics", "key"))

    @classmethod
    def check_options(cls, options: dict, where: str = "wb.evaluate", extra: tuple[str, ...] = ()) -> None:
        """An :class:`~workbench.errors.UnknownOption` (exit code 2) naming every unknown option and the valid
        ones (the plan's :meth:`options` and ``extra``, a caller's own)."""
        check_options(where, options, (*extra, *cls.options()))

    def metric_env(self, client: LLMClient) -> MetricEnv:
        """What this plan's metrics may use: its judge (through ``client``) and its embedding model."""
        return MetricEnv(judge=Judge(self.judge, client) if self.judge else None, embed_model=self.embed_model)


@dataclass
class RunProgress:
    """An executor's mutable progress: rows computed, error rows, USD spent, why it stopped (None: it did not),
    failed tasks."""

    n: int = 0
    errors: int = 0
    spent: float = 0.0
    stopped: str | None = None
    failed: list[str] = field(default_factory=list)

    def outcome(self) -> tuple[int, float, str | None]:
        """``(rows computed, USD spent, stop reason)``: what every executor returns."""
        return self.n, self.spent, self.stopped


class MetricEnv:
    """What metric functions may use: cached embeddings, the judge, the moderation endpoint."""

    def __init__(self, judge: Judge | None = None, embed_model: str | None = None, max_cache: int = 50_000):
        self.judge = judge
        self._embed_model = embed_model
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._max = max_cache
        self._store: Any = None  # the project's embedding cache (EmbeddingCache), opened by the first prefetch

    def embed(self, texts: list[str]) -> np.ndarray:
        from ..llm.embeddings import OFFLINE_MODEL, embed

        missing = self._missing(texts)
        if missing:
            self._remember(missing, embed(missing, model=self._embed_model or OFFLINE_MODEL, progress=False))
        with self._lock:
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    def _missing(self, texts: list[str]) -> list[str]:
        """``texts`` not in the in-memory cache yet, each once, in order."""
        with self._lock:
            return list(dict.fromkeys(t for t in texts if t not in self._cache))

    def _remember(self, texts: list[str], vecs: np.ndarray) -> None:
        with self._lock:
            if len(self._cache) > self._max:
                self._cache.clear()
            self._cache.update(zip(texts, vecs, strict=True))

    def prefetch(self, texts: list[str]) -> None:
        """Embed ``texts`` now, in batches, for the rows' own :meth:`embed` calls to find. A model run costs about
        the same for one short text as for many (MiniLM on this project's 2 cores: ~3 ms a run, most of it
        reading the weights), so a row that embeds its answer and its reference in one call paid for the
        reference padded to the answer's length; ahead, 64 references share a run (docs/benchmarks.md).
        These texts (a dataset's references) are the same at every run of an evaluation: their vectors are
        kept in the project's embedding cache (``.workbench/embeddings.db``, the one RAG indexes use, keyed by
        model and the text's sha256), so a second run embeds none of them."""
        from ..llm.embeddings import OFFLINE_MODEL, EmbeddingCache, project_cache_path

        missing = self._missing(texts)
        if missing:
            if self._store is None:
                self._store = EmbeddingCache(project_cache_path())
            vecs, _ = self._store.embed(missing, model=self._embed_model or OFFLINE_MODEL, progress=False)
            self._remember(missing, vecs)

    async def moderate(self, text: str) -> float | None:
        import openai

        ep = settings().endpoints.get("openai")
        if ep is None or not ep.has_key():
            return None
        client = openai.AsyncOpenAI(base_url=ep.base_url, api_key=ep.api_key())
        resp = await client.moderations.create(input=text)
        return float(resp.results[0].flagged)


def row_key(cand: str, rid: str, repeat: int) -> str:
    return f"{cand}\x1f{rid}\x1f{repeat}"


def read_checkpoint(path: Path) -> dict[str, dict]:
    """Completed rows by key; a truncated last line (crash mid-write) is ignored; later lines win."""
    done: dict[str, dict] = {}
    if not path.exists():
        return done
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            done[rec["key"]] = rec
    return done


CHECKPOINT_WAIT_S = 24 * 3600.0  # an identical evaluation may run for hours


class Checkpoint:
    """The append-only JSONL of an evaluation's finished rows. Opening it takes ``<file>.lock`` (held until
    :meth:`close`): an identical evaluation started meanwhile waits, then reads the rows done instead of paying
    for each of them again. ``resume=False`` empties it first (under the lock)."""

    def __init__(self, path: Path, resume: bool = True):
        import contextlib
        import sys

        from ..procs import locked

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        lock = path.with_name(path.name + ".lock")
        self._lock = contextlib.ExitStack()

        def waiting():
            print(f"[workbench] waiting for another evaluation of the same set to finish ({lock})", file=sys.stderr)

        self._lock.enter_context(locked(lock, CHECKPOINT_WAIT_S, f"the evaluation holding {lock}", on_wait=waiting))
        if not resume:
            path.unlink(missing_ok=True)
        # a crash can leave a partial last line: make sure new records start on a fresh line
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as raw:
                raw.seek(-1, os.SEEK_END)
                needs_nl = raw.read(1) != b"\n"
            if needs_nl:
                with open(path, "a", encoding="utf-8") as f:
                    f.write("\n")
        self.f = open(path, "a", encoding="utf-8")
        self.n = 0
        self.secrets = secret_values()  # an upstream error quoting the key must not land in the file

    def write(self, rec: dict) -> None:
        self.f.write(scrub(json.dumps(rec, ensure_ascii=False, default=str), self.secrets) + "\n")
        self.f.flush()
        self.n += 1
        if self.n % 50 == 0:
            os.fsync(self.f.fileno())

    def close(self) -> None:
        """Flush, close and release the lock (idempotent)."""
        if self.f.closed:
            return
        try:
            self.f.flush()
            os.fsync(self.f.fileno())
            self.f.close()
        finally:
            self._lock.close()


def input_text(row: dict) -> str:
    if row.get("question"):
        return str(row["question"])
    return "\n".join(f"{m['role']}: {m['content']}" for m in row.get("messages") or [])


async def score_row(row: dict, answer: Answer, mdefs: list[MetricDef], env: MetricEnv) -> dict:
    """Every metric on one answer. A failed answer scores the worst value on metrics whose ``on_error`` is
    "fail" (quality, honesty) — so failures count in means — and is computed by the others."""
    values: dict[str, Any] = {}
    if answer.error:
        failing = [m for m in mdefs if m.on_error == "fail"]
        for m in failing:
            values[m.name] = m.worst
        mdefs = [m for m in mdefs if m.on_error != "fail"]

    def unpack(m: MetricDef, out):
        if isinstance(out, tuple):
            out, details = out
            for k, v in (details or {}).items():
                values[f"{m.name}.{k}"] = v
        values[m.name] = None if out is None else float(out)

    def sync_part():
        for m in mdefs:
            if m.fn is None or inspect.iscoroutinefunction(m.fn):
                continue
            try:
                unpack(m, m.fn(row, answer, env))
            except Exception as e:  # noqa: BLE001 - a metric bug must not kill the run
                values[m.name] = None
                values[f"{m.name}.metric_error"] = scrub(f"{type(e).__name__}: {e}")  # a 401 may quote the key

    await asyncio.to_thread(sync_part)
    for m in mdefs:
        if inspect.iscoroutinefunction(m.fn):
            try:
                unpack(m, await m.fn(row, answer, env))
            except Exception as e:  # noqa: BLE001
                values[m.name] = None
                values[f"{m.name}.metric_error"] = scrub(f"{type(e).__name__}: {e}")  # a 401 may quote the key
    return values


class JobFeed:
    """The workers' shared supply of (row, candidate, repeat) jobs, taken lazily from ``jobs`` ``window`` at a
    time; with metrics that embed texts known before the answer (``MetricDef.prefetch``), those texts of a
    window's rows are embedded together, off the event loop, before its first job is handed out. A failed
    prefetch is ignored: each row's own call embeds what it needs and reports its error there."""

    def __init__(self, jobs: Iterator, prefetch: list[Callable[[dict], list[str]]], env: MetricEnv, window: int = 64):
        self._jobs, self._prefetch, self._env, self._window = jobs, prefetch, env, window
        self._ready: collections.deque = collections.deque()
        self._lock = asyncio.Lock()

    async def next(self):
        """The next job, or None when there are no more."""
        async with self._lock:
            if not self._ready:
                self._ready.extend(itertools.islice(self._jobs, self._window if self._prefetch else 1))
                texts = [t for row, _, _ in self._ready for f in self._prefetch for t in f(row)]
                if texts:
                    try:
                        await asyncio.to_thread(self._env.prefetch, texts)
                    except Exception:  # noqa: BLE001 - the rows' own calls embed, and report, what they need
                        pass
            return self._ready.popleft() if self._ready else None


async def run_jobs(
    plan: EvalPlan,
    jobs: Iterator[tuple[dict, Candidate, int]],
    total: int,
    ckpt: Checkpoint,
    client: LLMClient,
    recording=None,
) -> tuple[int, float, str | None]:
    """Run ``jobs`` with ``plan.concurrency`` workers under ``plan.budget_usd``, scoring ``plan.metrics``; returns
    (rows computed, USD spent, stop reason). With a :class:`~workbench.evaluate.record.Recording`, each row is a
    trace with its assessments."""
    mdefs, env = list(plan.metrics), plan.metric_env(client)
    budget = Budget(plan.budget_usd)  # integer nano-dollars: spent, and held by attempts in flight
    state = RunProgress()
    bar = progress_bar(total, "eval", "row", enabled=plan.progress)

    seq = itertools.count()

    async def one(row: dict, cand: Candidate, repeat: int, tab: Tab) -> None:
        order, started = next(seq), time.time()
        with row_trace(recording, cand, row, repeat) as box:
            t0 = time.perf_counter()
            try:
                answer = await cand.aanswer(row, client, repeat)
            except WorkbenchError:
                raise
            except Exception as e:  # noqa: BLE001 - the row becomes an error row
                answer = Answer(text="", error=f"candidate_error: {type(e).__name__}: {e}")
            finally:
                elapsed = time.perf_counter() - t0
            answer.elapsed_s = elapsed  # wall time to the complete answer: retries, backoff and retrieval included
            values = await score_row(row, answer, mdefs, env)
            await tab.close()
            spent = tab.spent_usd  # every attempt of every call of the row that was sent (cache hits cost 0)
            rec = row_record(row, cand.name, repeat, answer, values, spent)
            rec.update(seq=order, started_at=round(started, 3), elapsed_s=round(elapsed, 4))
            if tab.refused and not rec["error"]:  # e.g. a judge call not sent: incomplete, computed again on resume
                rec.update(
                    error="budget",
                    error_message=f"{tab.refused} call attempt(s) of this row not sent: the "
                    f"budget could not cover their upper bound",
                )
            if box is not None:
                rec["trace_id"] = box["trace_id"]
                box.update(record=rec, metrics=mdefs)
            ckpt.write(rec)
        state.n += 1
        state.errors += bool(rec["error"])
        if tab.refused:
            state.stopped = "budget"  # an attempt of this row did not fit
        if bar is not None:
            bar.update(1)
            bar.set_postfix(errors=state.errors, usd=f"{budget.spent_usd:.4f}", refresh=False)

    feed = JobFeed(jobs, [m.prefetch for m in mdefs if m.prefetch], env)

    async def worker():
        while (job := await feed.next()) is not None:  # a shared feed: each job is taken exactly once
            row, cand, repeat = job
            # admission: the row's own upper bound (prompt counted offline + max_tokens) must fit beside what is
            # spent and held; it waits only while attempts in flight hold money, so it never waits on nothing
            need = to_nano(upper_bound_usd(cand, row), up=True) if budget.limit is not None else 0
            if state.stopped or not await budget.admit(need):
                if budget.exhausted:
                    state.stopped = state.stopped or "budget"
                return
            tab = Tab(budget, credit=need)
            token = CURRENT_TAB.set(tab)
            try:
                await one(row, cand, repeat, tab)
            except BaseException:  # a configuration error or cancellation: stop, and free the waiting workers
                state.stopped = state.stopped or "error"
                await asyncio.shield(budget.stop())
                raise
            finally:
                CURRENT_TAB.reset(token)
                if tab.credit:
                    await asyncio.shield(tab.close())

    try:
        if recording is not None and recording.traces:
            from .. import tracing
            from ..config import settings

            tracing.route_to(recording.experiment_id)  # this task and its workers only
            with tracing.scope(recording.experiment_id, redact=settings().redact_pii):
                await asyncio.gather(*(worker() for _ in range(max(1, plan.concurrency or 1))))
        else:
            await asyncio.gather(*(worker() for _ in range(max(1, plan.concurrency or 1))))
    finally:
        if bar is not None:
            bar.close()
    state.spent = budget.spent_usd
    return state.outcome()


def upper_bound_usd(cand: Candidate, row: dict) -> float:
    """The most the first attempt of ``row``'s answer can cost: its prompt (counted offline, with chat framing; see
    :func:`~workbench.llm.pricing.prompt_tokens_bound`) plus ``max_tokens`` at the candidate's price; 0 for
    candidates without a model (callables) or a price."""
    model = getattr(cand, "model", None)
    if not model:
        return 0.0
    from ..llm.endpoints import resolve
    from ..llm.pricing import DEFAULT_MAX_TOKENS_BOUND, attempt_bound_usd

    ep, name, kind = resolve(model)
    try:
        messages = cand.messages(row, row.get("contexts") or [])
    except Exception:  # noqa: BLE001 - an estimate only: fall back to the question
        messages = [{"role": "user", "content": str(row.get("question") or "")}]
    max_tokens = getattr(cand, "gen_params", {}).get("max_tokens") or DEFAULT_MAX_TOKENS_BOUND
    return attempt_bound_usd(kind.price(ep, name), messages, name, max_tokens)


def interleaved_jobs(
    rows: list[dict], cands: list[Candidate], repeats: int, done: AbstractSet[str] = frozenset(), seed: int = 0
) -> list[tuple[dict, Candidate, int]]:
    """(row, candidate, repeat) jobs, row-major with the candidates in a seeded random order within each row, so
    drift in machine or API load during a run lands on every candidate alike (not on whichever ran last)."""
    rng = random.Random(seed)
    jobs = []
    for row in rows:
        for r in range(repeats):
            order = list(cands)
            rng.shuffle(order)
            jobs += [(row, c, r) for c in order if row_key(c.name, row["id"], r) not in done]
    return jobs


def row_record(row: dict, cand: str, repeat: int, answer: Answer, values: dict, spent: float) -> dict:
    """The checkpoint line of one evaluated row: inputs, answer, calls, cost and every metric value."""
    err = answer.error
    rec = {
        "key": row_key(cand, row["id"], repeat),
        "candidate": cand,
        "id": row["id"],
        "repeat": repeat,
        "input": input_text(row)[:2000],
        "reference": row.get("reference"),
        "answer": answer.text,
        "contexts": answer.contexts,
        "retrieved": answer.retrieved,
        "error": err.split(":")[0] if err else None,
        "error_message": (next((c.error_message for c in answer.calls if c.error_message), err) if err else None),
        "calls": len(answer.calls),
        "cache_hit": bool(answer.calls) and all(c.cache_hit for c in answer.calls),
        "attempts": sum(c.attempts for c in answer.calls),
        "spent_usd": spent,
        **values,
    }
    for col in ("expected_behavior", "split", "tags", "gold_doc_ids"):
        if row.get(col) is not None:
            rec[col] = row[col]
    return rec


# ------------------------------------------------------------------ where the work runs

# An evaluation's runner on an executor: ``fn(plan, pending, ckpt, recording)`` → ``(rows computed, USD spent, stop
# reason or None)``. ``local`` registers :func:`run_local` in the one registry of :mod:`workbench.executors`;
# executors without one run partitions on their pool (:func:`workbench.evaluate.distributed.run_on_pool`).
EvalExecutor = Callable[[EvalPlan, list, Checkpoint, Any], tuple[int, float, str | None]]


def run_local(plan: EvalPlan, pending: list, ckpt: Checkpoint, recording=None) -> tuple[int, float, str | None]:
    """Run the jobs in this process, on the workbench's event-loop thread."""
    return run_sync(run_jobs(plan, iter(pending), len(pending), ckpt, LLMClient(cache=plan.cache), recording))


register_executor("local", evaluate=run_local)
