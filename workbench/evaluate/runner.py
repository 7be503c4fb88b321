"""``wb.evaluate(...)``: rows × candidates × repeats, concurrent, streamed to a checkpoint, resumable,
with a budget stop, logged to MLflow.

* Jobs are pulled lazily by a fixed pool of async workers (memory stays flat for 100k rows); each finished
  row is appended to a JSONL checkpoint (``.workbench/evals/<dataset>-<key>.jsonl``). The key hashes the
  dataset digest, candidate configs, metric names, repeats and judge, so re-running the same call resumes:
  only missing (or failed) rows are computed, and the final table has one row per (candidate, id, repeat).
* ``budget_usd``: new spending (answer + judge calls that were not cache hits) is summed; when it reaches the
  budget no new row starts, in-flight rows finish and are checkpointed, and the result says
  ``stopped="budget"`` — re-run (with a larger budget) to continue.
* Row errors (after the client's retries) are rows with an ``error`` class, never exceptions.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np
import pandas as pd

from ..candidates import Answer, Candidate, as_candidate
from ..config import settings
from ..data import Dataset, load_dataset
from ..errors import WorkbenchError
from ..llm.client import LLMClient, run_sync
from . import stats
from .judge import Judge
from .metrics import MetricDef, get_metrics


class MetricEnv:
    """What metric functions may use: cached embeddings, the judge, the moderation endpoint."""

    def __init__(self, judge: Judge | None = None, embed_model: str | None = None, max_cache: int = 50_000):
        self.judge = judge
        self._embed_model = embed_model
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._max = max_cache

    def embed(self, texts: list[str]) -> np.ndarray:
        from ..llm.embeddings import OFFLINE_MODEL, embed

        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            vecs = embed(missing, model=self._embed_model or OFFLINE_MODEL, progress=False)
            with self._lock:
                if len(self._cache) > self._max:
                    self._cache.clear()
                self._cache.update(zip(missing, vecs))
        with self._lock:
            return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    async def moderate(self, text: str) -> float | None:
        import openai

        ep = settings().endpoints.get("openai")
        if ep is None or not ep.has_key():
            return None
        client = openai.AsyncOpenAI(base_url=ep.base_url, api_key=ep.api_key())
        resp = await client.moderations.create(input=text)
        return float(resp.results[0].flagged)


@dataclass
class EvalResult:
    """Rows, aggregates and run metadata of one evaluation. ``summary()`` → candidate × metric DataFrame."""

    rows: pd.DataFrame
    metrics: dict[str, float]
    candidates: list[str]
    metric_defs: list[MetricDef]
    dataset: Dataset
    checkpoint: Path
    run_id: str | None = None
    stopped: str | None = None
    spent_usd: float = 0.0
    duration_s: float = 0.0
    computed_rows: int = 0
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.stopped is None

    def summary(self, ci: bool = True) -> pd.DataFrame:
        """One line per candidate × metric × stat, with a 95% CI for means (Clopper-Pearson for rates,
        studentized bootstrap otherwise; see :mod:`workbench.evaluate.stats`)."""
        out = []
        for cand in self.candidates:
            sub = self.rows[self.rows["candidate"] == cand]
            for m in self.metric_defs:
                if m.name not in sub:
                    continue
                vals = pd.to_numeric(sub[m.name], errors="coerce").dropna().to_numpy(float)
                for stat in m.stats:
                    v = _stat(vals, stat)
                    lo = hi = None
                    if ci and stat == "mean" and len(vals):  # method per kind: evaluate/stats.py
                        lo, hi, _ = stats.ci(vals, binary=m.kind == "binary")
                        lo, hi = (None, None) if np.isnan(lo) else (lo, hi)
                    out.append({"candidate": cand, "metric": f"{m.name}/{stat}", "value": v, "ci_low": lo,
                                "ci_high": hi, "n": len(vals), "family": m.family})
                jcol = f"{m.name}.judge_error"
                if jcol in sub:
                    je = sub[jcol].dropna().astype(float)
                    out.append({"candidate": cand, "metric": f"{m.name}/judge_error_rate",
                                "value": float(je.mean()) if len(je) else None, "ci_low": None, "ci_high": None,
                                "n": len(je), "family": m.family})
            errs = sub["error"].notna().mean() if len(sub) else 0.0
            out.append({"candidate": cand, "metric": "run/error_rate", "value": float(errs), "ci_low": None,
                        "ci_high": None, "n": len(sub), "family": "run"})
        return pd.DataFrame(out)

    def to_markdown(self) -> str:
        s = self.summary()
        return s.pivot_table(index="metric", columns="candidate", values="value", aggfunc="first").to_string()


_stat = stats.aggregate  # mean, total, pNN (one definition, in stats.py)


def aggregates(result: EvalResult) -> dict[str, float]:
    """Flat ``{name: value}`` for MLflow: ``quality/f1/mean``; with several candidates ``<cand>/quality/f1/mean``."""
    s = result.summary(ci=False)
    multi = len(result.candidates) > 1
    return {(f"{r.candidate}/{r.metric}" if multi else r.metric): r.value for r in s.itertuples()
            if r.value is not None and not (isinstance(r.value, float) and np.isnan(r.value))}


# ------------------------------------------------------------------ checkpoint


def _row_key(cand: str, rid: str, repeat: int) -> str:
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


class _Checkpoint:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        # a crash can leave a partial last line: make sure new records start on a fresh line
        if path.exists() and path.stat().st_size:
            with open(path, "rb") as f:
                f.seek(-1, os.SEEK_END)
                needs_nl = f.read(1) != b"\n"
            if needs_nl:
                with open(path, "a", encoding="utf-8") as f:
                    f.write("\n")
        self.f = open(path, "a", encoding="utf-8")
        self.n = 0

    def write(self, rec: dict) -> None:
        self.f.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        self.f.flush()
        self.n += 1
        if self.n % 50 == 0:
            os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.flush()
        os.fsync(self.f.fileno())
        self.f.close()


# ------------------------------------------------------------------ the runner


def eval_key(ds: Dataset, cands: list[Candidate], mdefs: list[MetricDef], repeats: int, judge: str | None) -> str:
    blob = json.dumps([ds.digest, [(c.name, c.config) for c in cands], [m.name for m in mdefs], repeats, judge],
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _input_text(row: dict) -> str:
    if row.get("question"):
        return str(row["question"])
    return "\n".join(f"{m['role']}: {m['content']}" for m in row.get("messages") or [])


async def _score(row: dict, answer: Answer, mdefs: list[MetricDef], env: MetricEnv) -> dict:
    values: dict[str, Any] = {}

    def unpack(m: MetricDef, out):
        if isinstance(out, tuple):
            out, details = out
            for k, v in (details or {}).items():
                values[f"{m.name}.{k}"] = v
        values[m.name] = None if out is None else float(out)

    def sync_part():
        for m in mdefs:
            if inspect.iscoroutinefunction(m.fn):
                continue
            try:
                unpack(m, m.fn(row, answer, env))
            except Exception as e:  # noqa: BLE001 - a metric bug must not kill the run
                values[m.name] = None
                values[f"{m.name}.metric_error"] = f"{type(e).__name__}: {e}"

    await asyncio.to_thread(sync_part)
    for m in mdefs:
        if inspect.iscoroutinefunction(m.fn):
            try:
                unpack(m, await m.fn(row, answer, env))
            except Exception as e:  # noqa: BLE001
                values[m.name] = None
                values[f"{m.name}.metric_error"] = f"{type(e).__name__}: {e}"
    return values


async def _run_jobs(jobs: Iterator[tuple[dict, Candidate, int]], total: int, client: LLMClient,
                    mdefs: list[MetricDef], env: MetricEnv, ckpt: _Checkpoint, concurrency: int,
                    budget_usd: float | None, progress: bool, trace: bool) -> tuple[int, float, str | None]:
    state = {"spent": 0.0, "errors": 0, "n": 0, "stop": None}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="eval", unit="row")

    async def one(row: dict, cand: Candidate, repeat: int) -> None:
        try:
            answer = await cand.aanswer(row, client, repeat)
        except WorkbenchError:
            raise
        except Exception as e:  # noqa: BLE001 - the row becomes an error row
            answer = Answer(text="", error=f"candidate_error: {type(e).__name__}: {e}")
        judge_before = env.judge.spent_usd if env.judge else 0.0
        values = await _score(row, answer, mdefs, env)
        spent = sum(c.cost_usd or 0.0 for c in answer.calls if not c.cache_hit)
        spent += (env.judge.spent_usd - judge_before) if env.judge else 0.0
        state["spent"] += spent
        err = answer.error
        rec = {"key": _row_key(cand.name, row["id"], repeat), "candidate": cand.name, "id": row["id"],
               "repeat": repeat, "input": _input_text(row)[:2000], "reference": row.get("reference"),
               "answer": answer.text, "contexts": answer.contexts, "retrieved": answer.retrieved, "error": err.split(":")[0] if err else None,
               "error_message": (next((c.error_message for c in answer.calls if c.error_message), err) if err else None),
               "calls": len(answer.calls), "cache_hit": bool(answer.calls) and all(c.cache_hit for c in answer.calls),
               "attempts": sum(c.attempts for c in answer.calls), "spent_usd": spent, **values}
        for col in ("expected_behavior", "split", "tags", "gold_doc_ids"):
            if row.get(col) is not None:
                rec[col] = row[col]
        ckpt.write(rec)
        if trace:
            _trace_row(rec)
        state["n"] += 1
        state["errors"] += bool(err)
        if bar is not None:
            bar.update(1)
            bar.set_postfix(errors=state["errors"], usd=f"{state['spent']:.4f}", refresh=False)
        if budget_usd is not None and state["spent"] >= budget_usd and state["stop"] is None:
            state["stop"] = "budget"

    async def worker():
        for row, cand, repeat in jobs:  # a shared iterator: each job is taken exactly once
            if state["stop"]:
                return
            await one(row, cand, repeat)

    try:
        await asyncio.gather(*(worker() for _ in range(max(1, concurrency))))
    finally:
        if bar is not None:
            bar.close()
    return state["n"], state["spent"], state["stop"]


def _trace_row(rec: dict) -> None:
    import mlflow

    with mlflow.start_span(name=f"eval:{rec['candidate']}") as span:
        span.set_inputs({"id": rec["id"], "input": rec["input"], "contexts": rec.get("contexts")})
        span.set_outputs({"answer": rec["answer"], "error": rec["error"]})
        span.set_attributes({k: v for k, v in rec.items() if "/" in k and isinstance(v, (int, float))})


def evaluate(dataset, candidates, metrics: list[str] | None = None, repeats: int = 1,
             concurrency: int | None = None, cache: str = "use", budget_usd: float | None = None,
             judge: str | None = None, checkpoint: str | Path | None = None, log: bool = True,
             run_id: str | None = None, trace: bool = False, progress: bool | None = None,
             resume: bool = True, embed_model: str | None = None, executor: str = "local",
             scheduler: str | None = None, workers: int | None = None,
             partition_rows: int | None = None) -> EvalResult:
    """Evaluate ``candidates`` (model specs, :class:`Candidate`s or callables) on ``dataset``.

    Returns an :class:`EvalResult`; logs to MLflow when ``log`` (the launching run inside
    ``workbench run``, ``run_id`` if given, else this process's own run). ``metrics``: names or families
    (default: every metric that needs no LLM, plus judged ones when ``judge`` is set). ``executor="dask"``
    spreads rows over Dask workers (``scheduler`` address, else a local cluster of ``workers``), in
    partitions of ``partition_rows``; see :mod:`workbench.evaluate.distributed`.
    """
    t0 = time.monotonic()
    ds = load_dataset(dataset)
    cands = [as_candidate(c) for c in (candidates if isinstance(candidates, (list, tuple)) else [candidates])]
    names = [c.name for c in cands]
    if len(set(names)) != len(names):
        raise WorkbenchError(f"candidate names must be unique, got {names}: pass name=... to tell them apart")
    mdefs = get_metrics(metrics, judge=bool(judge))
    if repeats < 1:
        raise WorkbenchError("repeats must be >= 1")
    for c in cands:  # fail fast on bad model specs / missing keys, before any row runs
        model = getattr(c, "model", None)
        if model:
            ep, _ = settings().resolve_model(model)
            ep.api_key()
    key = eval_key(ds, cands, mdefs, repeats, judge)
    ckpt_path = Path(checkpoint) if checkpoint else settings().project_dir / ".workbench" / "evals" / f"{ds.name}-{key}.jsonl"
    if not resume and ckpt_path.exists():
        ckpt_path.unlink()
    done = {k for k, r in read_checkpoint(ckpt_path).items() if not r.get("error")}
    rows = ds.rows
    pending = [(row, c, r) for c in cands for row in rows for r in range(repeats)
               if _row_key(c.name, row["id"], r) not in done]
    client = LLMClient(cache=cache)
    env = MetricEnv(judge=Judge(judge, client) if judge else None, embed_model=embed_model)
    conc = concurrency or max(4, min(64, 2 * max(settings().resolve_model(getattr(c, "model", "local"))[0]
                                                 .max_concurrency for c in cands)))
    ckpt = _Checkpoint(ckpt_path)
    if trace:
        from .. import tracking

        tracking.configure()
    show = progress if progress is not None else len(pending) > 20
    try:
        if executor == "local":
            n, spent, stopped = run_sync(_run_jobs(iter(pending), len(pending), client, mdefs, env, ckpt, conc,
                                                   budget_usd, show, trace))
        else:  # rows on a cluster: the same runner per partition, checkpointed per partition
            from .distributed import get_eval_executor

            n, spent, stopped = get_eval_executor(executor)(
                pending, cands, mdefs, ckpt, scheduler=scheduler, workers=workers, partition_rows=partition_rows,
                concurrency=conc, cache=cache, judge=judge, embed_model=embed_model, budget_usd=budget_usd,
                progress=show, trace=trace)
    finally:
        ckpt.close()
    final = read_checkpoint(ckpt_path)
    order = {(_row_key(c.name, row["id"], r)): i for i, (row, c, r) in enumerate(
        (row, c, r) for c in cands for row in rows for r in range(repeats))}
    recs = sorted((v for k, v in final.items() if k in order), key=lambda v: order[v["key"]])
    df = pd.DataFrame(recs)
    if stopped is None and len(df) < len(order):
        stopped = "incomplete"
    # namespaced, so they never clash with a notebook's own parameters (MLflow params are write-once)
    params = {"dataset.name": ds.name, "dataset.digest": ds.digest, "dataset.rows": len(ds), "eval.repeats": repeats,
              "eval.metrics": ",".join(m.name for m in mdefs), "eval.judge": judge or "none", "eval.cache": cache,
              "eval.budget_usd": budget_usd if budget_usd is not None else "none", "eval.key": key}
    for c in cands:
        params.update(c.params())
    result = EvalResult(rows=df, metrics={}, candidates=names, metric_defs=mdefs, dataset=ds, checkpoint=ckpt_path,
                        stopped=stopped, spent_usd=spent, duration_s=time.monotonic() - t0, computed_rows=n,
                        params=params)
    result.metrics = aggregates(result) if len(df) else {}
    if log:
        from .report import log_result

        result.run_id = log_result(result, run_id)
    return result


def estimate(dataset, candidates, metrics: list[str] | None = None, repeats: int = 1,
             judge: str | None = None) -> pd.DataFrame:
    """Dry run: calls, tokens and an upper-bound USD per candidate (prompt tokens counted offline,
    completion tokens = ``max_tokens``; judge calls ~ rubric + answer). Nothing is sent to a model."""
    from ..llm.pricing import cost_usd, count_tokens

    ds = load_dataset(dataset)
    cands = [as_candidate(c) for c in (candidates if isinstance(candidates, (list, tuple)) else [candidates])]
    mdefs = get_metrics(metrics, judge=bool(judge))
    judge_calls_per_row = sum(2 if m.name == "honesty/judge_groundedness" else 1 for m in mdefs if m.needs_llm
                              and m.name != "harm/moderation_flagged")
    out = []
    for c in cands:
        model = getattr(c, "model", None)
        if model is None:
            out.append({"candidate": c.name, "calls": len(ds) * repeats, "prompt_tokens": None,
                        "completion_tokens_max": None, "usd_max": None, "accuracy": "callable: unknown"})
            continue
        ep, model_name = settings().resolve_model(model)
        max_tokens = getattr(c, "gen_params", {}).get("max_tokens", 256)
        pt, acc = 0, "exact"
        for row in ds.rows:
            text = "\n".join(m["content"] for m in c.messages(row))
            n, a = count_tokens(text, model_name)
            pt += n
            acc = a if a != "exact" else acc
        pt *= repeats
        ct = len(ds) * repeats * max_tokens
        usd = cost_usd(ep, model_name, pt, ct)
        jusd = None
        if judge:
            jep, jm = settings().resolve_model(judge)
            jcalls = len(ds) * repeats * judge_calls_per_row
            jusd = cost_usd(jep, jm, jcalls * (400 + max_tokens), jcalls * 512)
        out.append({"candidate": c.name, "model": model, "calls": len(ds) * repeats, "prompt_tokens": pt,
                    "completion_tokens_max": ct, "usd_max": usd,
                    "judge_calls": len(ds) * repeats * judge_calls_per_row if judge else 0,
                    "judge_usd_max": jusd, "token_count": acc})
    return pd.DataFrame(out)
