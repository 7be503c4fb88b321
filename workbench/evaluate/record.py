"""The MLflow evidence of an evaluation, in MLflow's own entities (so the MLflow UI shows it natively):

* **a run per candidate** — with several candidates, one child run each under the evaluation's run, with
  unprefixed metrics (``quality/f1/mean``), the candidate's parameters and the dataset input, so two candidates
  can be ticked and compared in the UI; with one candidate the evaluation's run is the candidate's run;
* **a LoggedModel per candidate configuration** (``mlflow.create_external_model``): its params are the
  configuration, it is reused while the configuration is unchanged and a new version is created when it changes;
  the candidate's run and its metrics link to it (``model_id``), so the Models tab lists configurations with
  their evaluation metrics, and ``workbench app serve --model-id`` can serve exactly that version;
* **a trace per evaluated (candidate, row, repeat)** in the evaluation's experiment, linked to its candidate's
  run (``mlflow.sourceRun``) and LoggedModel (``mlflow.modelId``): the inputs, the answer, the retrieval span
  of RAG candidates and the model call spans; every metric value a **Feedback** assessment named as the metric
  (source CODE, or LLM_JUDGE naming the judge model) with a plain-text rationale (:mod:`.rationale`); the reference an
  **Expectation**; a failed row's metrics are Feedback errors. The assessments are attached to the trace
  before it is exported, so a row costs one asynchronous trace write (MLflow's
  ``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING``, on by default; the job loop flushes every ``FLUSH_EVERY`` rows so
  memory stays flat), batched with other rows by :mod:`workbench.tracing`'s whole-trace export. Rows resumed from a checkpoint are not recomputed: their traces are linked to the resuming
  run, and a row whose trace never reached the store (a ``kill -9`` while it was queued for export) or is in
  another experiment is traced again from the checkpoint (:func:`trace_resumed_rows`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from .. import tags as T, tracking
from ..secrets import clean, scrub, secret_values
from .rationale import explain

FLUSH_EVERY = 256  # rows between waits for the trace export queue (MLflow drops traces when its queue is full)
EXPECTATION = "expected_response"  # MLflow's name for the reference answer
MODEL_TYPE = "workbench-candidate"


@dataclass
class Recording:
    """Where an evaluation's evidence goes: the parent run, one run and one LoggedModel per candidate."""

    experiment_id: str
    parent_run_id: str
    runs: dict[str, str] = field(default_factory=dict)  # candidate name → run id
    models: dict[str, str] = field(default_factory=dict)  # candidate name → LoggedModel id
    traces: bool = True
    judge: str | None = None
    recorded: int = 0

    @property
    def children(self) -> bool:
        return any(r != self.parent_run_id for r in self.runs.values())


def config_hash(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _flat_params(config: dict) -> dict[str, str]:
    """LoggedModel params: credential-named fields masked and the environment's secrets scrubbed."""
    return {tracking.safe_key(k): ("" if v is None else str(v))[:6000] for k, v in clean(config).items()}


def _model_short(spec: str) -> str:
    """``smollm2`` for ``local``, ``contoso-lora`` for ``local:contoso-lora``: the model an endpoint alias means."""
    try:
        from ..config import settings

        return settings().resolve_model(spec)[1]
    except Exception:  # noqa: BLE001 - an unknown alias is named as written
        return spec.rpartition(":")[2]


def configuration_name(cand) -> str:
    """A LoggedModel name that says what the configuration is: the candidate's name, then what its
    configuration adds to it — retriever (and reranker), k, model — e.g. ``rag-hybrid-k4-smollm2`` for the RAG
    candidate named ``rag``, ``base-prompt-smollm2`` for a prompt-only one named ``base``. Characters MLflow
    refuses in a model name (``/ : . % " '``) become ``-``."""
    import re

    cfg = cand.config or {}
    parts = [str(cfg.get("kind") or "candidate")]
    if cfg.get("retriever"):
        parts = [f"{parts[0]}-{cfg['retriever']}" + (f"+{cfg['rerank']}" if cfg.get("rerank") else "")]
    if cfg.get("top_k"):
        parts.append(f"k{cfg['top_k']}")
    if cfg.get("model"):
        parts.append(_model_short(str(cfg["model"])))
    what = "-".join(parts)
    words = set(re.split(r"[-_+]", cand.name.lower()))
    extra = [p for p in what.split("-") if p.lower() not in words]
    name = f"{cand.name}-{'-'.join(extra)}" if extra else cand.name
    return re.sub(r"[/:.%\"']", "-", name)[:250]


def logged_model(cand, experiment_id: str, source_run_id: str | None = None) -> str:
    """The LoggedModel id of ``cand``'s configuration: the newest one of this name (:func:`configuration_name`)
    with the same configuration hash (or, logged before that naming, of the candidate's name), else a new
    external model (a new version of the name). The candidate's own name is its tag ``workbench.candidate``."""
    import mlflow

    h = config_hash(cand.config)
    c = tracking.client()
    model_name = configuration_name(cand)

    def named(name: str) -> list:
        try:
            return mlflow.search_logged_models(
                experiment_ids=[experiment_id], filter_string=f"name = '{name}'", output_format="list", max_results=200
            )
        except Exception:  # noqa: BLE001 - an old store without LoggedModels: make one below
            return []

    found = [m for m in named(model_name) if (m.tags or {}).get(T.CONFIG_HASH) == h]
    if not found and model_name != cand.name:  # logged before models were named for their configuration
        found = [m for m in named(cand.name) if (m.tags or {}).get(T.CONFIG_HASH) == h]
    for m in found[:1]:  # the newest
        if str(m.status) == "PENDING":  # its creator was killed while finalizing it: nothing else to upload
            with contextlib.suppress(Exception):
                from mlflow.entities import LoggedModelStatus

                c.finalize_logged_model(m.model_id, LoggedModelStatus.READY)
        return m.model_id
    model = c.create_logged_model(
        experiment_id,
        name=model_name,
        source_run_id=source_run_id,
        tags={T.CONFIG_HASH: h, T.CANDIDATE: cand.name},
        params=_flat_params(cand.config),
        model_type=MODEL_TYPE,
    )
    with contextlib.suppress(Exception):  # READY: an external model has no artifacts to wait for
        from mlflow.entities import LoggedModelStatus

        c.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    return model.model_id


def candidate_name(model) -> str:
    """The name of the candidate a LoggedModel records (its ``workbench.candidate`` tag; else the model's name)."""
    return (model.tags or {}).get(T.CANDIDATE) or model.name


def logged_candidate(model_id: str):
    """LoggedModel ``model_id`` and the candidate configuration its params record: ``(model, config)``."""
    import mlflow

    from ..candidates import config_from_params
    from ..errors import ConfigError

    tracking.configure()
    try:
        model = mlflow.get_logged_model(model_id)
    except Exception as e:  # noqa: BLE001 - MLflow raises several types for an unknown id
        raise ConfigError(f"no logged model {model_id!r} in {tracking.tracking_uri()} ({type(e).__name__})") from None
    config = config_from_params(model.params or {})
    if not config.get("kind"):
        raise ConfigError(f"logged model {model_id} ({model.name}) is not a workbench candidate configuration")
    return model, config


def open_recording(
    cands: list, parent_run_id: str, dataset, traces: bool = True, judge: str | None = None
) -> Recording:
    """Create the candidate runs (children when there are several) and LoggedModels before any row runs, so
    row traces can link to them; register the dataset as the experiment's evaluation dataset (reused while
    unchanged), linked to every run of the evaluation."""
    from mlflow.entities import LoggedModelInput

    from ..data import log_dataset

    c = tracking.client()
    exp_id = c.get_run(parent_run_id).info.experiment_id
    rec = Recording(exp_id, parent_run_id, traces=traces, judge=judge)
    managed = evaluation_dataset(dataset, exp_id)
    for cand in cands:
        if len(cands) == 1:
            run_id = parent_run_id
        else:
            run_id = c.create_run(
                exp_id,
                run_name=cand.name,
                tags={T.PARENT_RUN_ID: parent_run_id, T.KIND: "candidate", T.CANDIDATE: cand.name},
            ).info.run_id
            tracking.log_params(_flat_params(cand.config), run_id)
            log_dataset(dataset, run_id=run_id)
        rec.runs[cand.name] = run_id
        rec.models[cand.name] = logged_model(cand, exp_id, source_run_id=run_id)
        c.log_inputs(run_id, models=[LoggedModelInput(rec.models[cand.name])])
    if managed is not None:
        link_dataset(managed, {parent_run_id, *rec.runs.values()})
    return rec


def evaluation_dataset(dataset, experiment_id: str):
    """The MLflow GenAI evaluation dataset of ``dataset`` in the experiment (the Datasets page): the one already
    registered for this file and content (by digest), else registered now (:func:`register_dataset`; a name
    another file holds gets the digest appended); a dataset read from MLflow (``mlflow:NAME``) is that dataset.
    None, with a warning, when the store cannot hold one: the evaluation does not depend on it."""
    import logging

    from mlflow.genai.datasets import search_datasets

    from ..errors import WorkbenchError

    try:
        if str(dataset.source).startswith("mlflow:"):
            name = str(dataset.source).partition(":")[2]
            found = [d for d in search_datasets(experiment_ids=[experiment_id], max_results=1000) if d.name == name]
            return found[0] if found else None
        try:
            return register_dataset(dataset, experiment_id)
        except WorkbenchError:  # another file holds the name
            return register_dataset(dataset, experiment_id, name=f"{dataset.name}-{dataset.digest[:8]}")
    except Exception as e:  # noqa: BLE001 - an old store or a server without dataset support
        logging.getLogger(__name__).warning(
            "could not register %s as an MLflow evaluation dataset: %s", dataset.name, e
        )
        return None


def link_dataset(managed, run_ids) -> None:
    """Log the evaluation dataset as an input of each run (context ``evaluation``), as ``mlflow.genai.evaluate``
    does, so the run and the dataset name each other in the UI."""
    from mlflow.entities import DatasetInput, InputTag

    entity = managed._to_mlflow_entity()
    c = tracking.client()
    for run_id in run_ids:
        c.log_inputs(run_id, datasets=[DatasetInput(entity, tags=[InputTag("mlflow.data.context", "evaluation")])])


def close_recording(rec: Recording, result=None, status: str = "FINISHED") -> None:
    """Log each candidate's own metrics (unprefixed, linked to its LoggedModel and the dataset) and rows, and end
    the child runs (``status``; a failed evaluation has no ``result``); wait until every row trace is written."""
    from mlflow.entities import Metric

    flush()
    c = tracking.client()
    if result is None:
        for run_id in rec.runs.values():
            if run_id != rec.parent_run_id:
                c.set_terminated(run_id, status)
        return
    summary = result.summary(ci=False)
    ts = int(time.time() * 1000)
    for name, run_id in rec.runs.items():
        sub = summary[summary["candidate"] == name]
        metrics = [
            Metric(
                tracking.safe_key(r.metric),
                float(r.value),
                ts,
                0,
                model_id=rec.models.get(name),
                dataset_name=result.dataset.name,
                dataset_digest=result.dataset.digest,
            )
            for r in sub.itertuples()
            if r.value is not None and not (isinstance(r.value, float) and math.isnan(r.value))
        ]
        for i in range(0, len(metrics), 1000):
            c.log_batch(run_id, metrics=metrics[i : i + 1000])
        if run_id != rec.parent_run_id:
            rows = result.rows[result.rows["candidate"] == name] if len(result.rows) else result.rows
            if len(rows):
                from .report import flat_table

                tracking.log_table(flat_table(rows), "eval_rows.json", run_id=run_id)
            c.set_terminated(run_id, status)


def flush() -> None:
    """Wait until the queued row traces are written (:func:`workbench.tracing.flush`)."""
    from ..tracing import flush as flush_traces

    flush_traces()


@contextlib.contextmanager
def row_trace(rec: Recording | None, cand, row: dict, repeat: int) -> Iterator[dict | None]:
    """One trace around answering and scoring a row (its model calls and retrieval nest inside). The caller
    puts the finished row record under ``"record"`` in the yielded dict; its assessments are attached before the
    trace is exported."""
    if rec is None or not rec.traces:
        yield None
        return
    import mlflow
    from mlflow.entities import SpanType
    from mlflow.tracing.provider import safe_set_span_in_context

    from ..tracing import install

    install()  # the span processor that scrubs secrets (and redacts PII when asked) before export
    box: dict[str, Any] = {}
    # the request as chat messages: MLflow's trace list previews the last user message (the question itself,
    # not a JSON object cut after the row id)
    msgs = [{"role": "user", "content": row["question"]}] if row.get("question") else row.get("messages")
    span = mlflow.start_span_no_context(
        name=cand.name, span_type=SpanType.CHAIN, inputs={"messages": msgs, "id": row.get("id"), "repeat": repeat}
    )
    end_ns = None
    try:
        with safe_set_span_in_context(span):
            box["trace_id"] = span.trace_id
            yield box
            r = box.get("record")
            if r is not None:
                span.set_outputs(r.get("answer"))
                if r.get("error"):
                    from mlflow.entities import SpanStatusCode

                    span.set_status(SpanStatusCode.ERROR)
                _attach(rec, cand.name, span, r, box.get("metrics") or [])
                end_ns = row_end_ns(span, r)
    except BaseException as e:
        if isinstance(e, Exception):
            span.record_exception(e)
        raise
    finally:
        span.end(end_time_ns=end_ns)
    rec.recorded += 1
    if rec.recorded % FLUSH_EVERY == 0:
        flush()


def row_end_ns(span, r: dict) -> int | None:
    """When a row's trace ends: its start plus the row's latency (``latency/latency_s``, else the elapsed time to
    the answer), so the trace's duration is the row's latency; the scoring that follows (a judge's calls) is
    not part of it. None (end now) when neither is known."""
    latency = r.get("latency/latency_s")
    if latency is None or (isinstance(latency, float) and math.isnan(latency)):
        latency = r.get("elapsed_s")
    start = getattr(span, "start_time_ns", None)
    if latency is None or not start:
        return None
    return int(start + float(latency) * 1e9)


def record_finished_row(rec: Recording | None, r: dict, mdefs: list) -> str | None:
    """A trace for a row computed elsewhere (a Dask worker, or an earlier run whose trace never reached this
    store or experiment): its answer and assessments, without call spans. Returns the trace id."""
    if rec is None or not rec.traces:
        return None
    from types import SimpleNamespace

    row = {"id": r.get("id"), "question": r.get("input")}
    with row_trace(rec, SimpleNamespace(name=r["candidate"]), row, r.get("repeat", 0)) as box:
        if box is not None:  # rec records traces (checked above): always
            box.update(record=r, metrics=mdefs)
    return box.get("trace_id") if box is not None else None


def trace_resumed_rows(rec: Recording | None, rows: list[dict], mdefs: list) -> dict[str, dict]:
    """Make every row resumed from a checkpoint part of this evaluation's evidence: a row whose trace is in this
    experiment is linked to its candidate's run (``link_traces_to_run``); a row whose trace is missing (a kill
    while it waited in the asynchronous export queue) or lives in another experiment is traced again from the
    checkpoint (answer and assessments, without call spans). Returns the rows re-traced, by key, with their new
    ``trace_id`` (the caller appends them to the checkpoint)."""
    if rec is None or not rec.traces or not rows:
        return {}
    from mlflow.tracing.client import TracingClient
    from mlflow.tracing.constant import TraceMetadataKey

    tc = TracingClient(tracking.tracking_uri())
    link: dict[str, list[str]] = {}
    retraced: dict[str, dict] = {}
    missing = []
    for r in rows:
        info = None
        if r.get("trace_id"):
            with contextlib.suppress(Exception):  # not found: traced again below
                info = tc.get_trace_info(r["trace_id"])
        run_id = rec.runs.get(r["candidate"])
        if info is not None and str(info.experiment_id) == str(rec.experiment_id):
            if run_id and (info.trace_metadata or {}).get(TraceMetadataKey.SOURCE_RUN) != run_id:
                link.setdefault(run_id, []).append(r["trace_id"])
        else:
            missing.append(r)

    def retrace():  # in a thread of its own: its traces go to this experiment, the process's destination stays
        from .. import tracing
        from ..config import settings

        tracing.route_to(rec.experiment_id)
        with tracing.scope(rec.experiment_id, redact=settings().redact_pii):
            for r in missing:
                tid = record_finished_row(rec, r, mdefs)
                if tid:
                    retraced[r["key"]] = {**r, "trace_id": tid}

    if missing:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="workbench-retrace") as pool:
            pool.submit(retrace).result()  # its error is raised here
    c = tracking.client()
    for run_id, ids in link.items():
        for i in range(0, len(ids), 100):  # MLflow links at most 100 traces per call
            c.link_traces_to_run(ids[i : i + 100], run_id)
    flush()
    return retraced


def _attach(rec: Recording, cand: str, span, r: dict, mdefs: list) -> None:
    """Assessments and links on the in-memory trace, written with it in one export."""
    from mlflow.entities import AssessmentError, AssessmentSource, AssessmentSourceType, Expectation, Feedback
    from mlflow.tracing.constant import TraceMetadataKey
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    run_id, model_id = rec.runs.get(cand), rec.models.get(cand)
    meta = {"mlflow.assessment.sourceRunId": run_id} if run_id else {}
    code = AssessmentSource(source_type=AssessmentSourceType.CODE, source_id="workbench")
    judge = AssessmentSource(source_type=AssessmentSourceType.LLM_JUDGE, source_id=rec.judge or "judge")
    out: list[Feedback | Expectation] = []
    secrets = secret_values()  # error texts (a 401 quoting the key) are scrubbed before they are stored
    for m in mdefs:
        details = {k.removeprefix(m.name + "."): v for k, v in r.items() if k.startswith(m.name + ".")}
        src = judge if m.needs_llm else code
        value = r.get(m.name)
        if r.get("error") or details.get("metric_error"):  # the row failed, or the metric raised on it
            why = r.get("error_message") or details.get("metric_error") or r.get("error")
            out.append(
                Feedback(
                    name=m.name,
                    error=AssessmentError(
                        error_code=r.get("error") or "metric_error", error_message=scrub(str(why), secrets)[:1000]
                    ),
                    source=src,
                    span_id=span.span_id,
                    metadata=meta,
                )
            )
        elif value is None:  # the metric does not apply to this row (a red-team check on a QA row): no assessment
            continue
        else:
            out.append(
                Feedback(
                    name=m.name,
                    value=float(value),
                    rationale=explain(m, value, details, r, secrets),  # plain text: why the row scored this
                    source=src,
                    span_id=span.span_id,
                    metadata=meta,
                )
            )
    if r.get("reference") is not None:
        out.append(
            Expectation(name=EXPECTATION, value=r["reference"], source=code, span_id=span.span_id, metadata=meta)
        )
    with InMemoryTraceManager.get_instance().get_trace(span.trace_id) as t:
        if t is None:
            return
        t.info.assessments.extend(out)
        if run_id:
            t.info.trace_metadata[TraceMetadataKey.SOURCE_RUN] = run_id
        if model_id:
            t.info.trace_metadata[TraceMetadataKey.MODEL_ID] = model_id
        t.info.tags[T.CANDIDATE] = cand


def log_human_label(trace_id: str, name: str, value: Any, user: str | None = None, rationale: str | None = None):
    """A reviewer's label as a HUMAN Feedback on a row's trace (the review widget calls this)."""
    import getpass

    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    tracking.configure()
    src = AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id=user or getpass.getuser())
    return mlflow.log_feedback(trace_id=trace_id, name=name, value=value, source=src, rationale=rationale)


def log_scores(trace_id: str, values: dict[str, float | None], source_id: str = "workbench") -> int:
    """Metric values computed after the fact (the monitor's sampled scores of served traffic) as CODE Feedback
    on an existing trace; returns how many were logged. A failure to log is reported, never raised."""
    import logging

    import mlflow
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    src = AssessmentSource(source_type=AssessmentSourceType.CODE, source_id=source_id)
    n = 0
    for name, value in values.items():
        if value is None:
            continue
        try:
            mlflow.log_feedback(trace_id=trace_id, name=name, value=float(value), source=src)
            n += 1
        except Exception as e:  # noqa: BLE001 - scores stay in the monitor's table even if MLflow refuses one
            logging.getLogger(__name__).warning("could not log %s on trace %s: %s", name, trace_id, e)
    return n


def register_dataset(dataset, experiment_id: str | None = None, name: str | None = None):
    """Register ``dataset`` as an MLflow GenAI evaluation dataset (the UI's Datasets tab): one record per row,
    ``inputs`` = the question (or messages), ``expectations`` = the reference (``expected_response``) and any
    gold document ids. The same file with the same content (digest) is reused as it is; re-registering it after an edit makes the registered records equal to the file
    (rows it no longer has are deleted, changed ones updated) and updates the digest tag; another file whose name
    is already registered (the same stem elsewhere) is refused: pass ``name``. Returns the dataset."""
    from mlflow.genai.datasets import create_dataset, get_dataset, search_datasets, set_dataset_tags

    from ..data import load_dataset
    from ..errors import WorkbenchError

    ds = load_dataset(dataset)
    tracking.configure()
    exp = experiment_id or tracking.experiment_id()
    name = name or ds.name
    source = str(ds.source)
    found = [d for d in search_datasets(experiment_ids=[exp], max_results=1000) if d.name == name]
    tags = {T.DATASET_DIGEST: ds.digest, T.DATASET_SOURCE: source}
    if found:
        target = found[0]
        held = (target.tags or {}).get(T.DATASET_SOURCE)
        if held and held != source:
            raise WorkbenchError(
                f"an evaluation dataset named '{name}' already holds {held}; {source} is another "
                f"file: pass name=... to register it under its own name"
            )
        if held == source and (target.tags or {}).get(T.DATASET_DIGEST) == ds.digest:
            return target  # registered, unchanged: reused as it is (no records written)
    else:
        target = create_dataset(name=name, experiment_id=exp, tags=tags)
    records = []
    for row in ds.rows:
        inputs = {"question": row["question"]} if row.get("question") else {"messages": row.get("messages")}
        exp_ = {}
        if row.get("reference") is not None:
            exp_[EXPECTATION] = row["reference"]
        if row.get("gold_doc_ids"):
            exp_["gold_doc_ids"] = list(row["gold_doc_ids"])
        records.append({"inputs": inputs, "expectations": exp_, "tags": {"id": str(row["id"])}})
    if found and (target.tags or {}).get(T.DATASET_DIGEST) != ds.digest:  # edited: drop the rows it no longer has

        def ident(inputs) -> str:
            return json.dumps(inputs, sort_keys=True, default=str)

        keep = {ident(r["inputs"]) for r in records}
        old = target.to_df()
        stale = [
            rid
            for rid, inputs in zip(old["dataset_record_id"], old["inputs"], strict=True)
            if ident(inputs) not in keep
        ]
        if stale:
            target.delete_records(stale)
    target.merge_records(records)
    if found:
        set_dataset_tags(target.dataset_id, tags)
    return get_dataset(dataset_id=target.dataset_id)  # its digest now covers the merged records
