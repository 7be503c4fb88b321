"""Governance: a card per tracked run (Markdown + HTML artifacts), the audit trail, and the secret scan.

:func:`govern_run` runs at the end of every ``workbench run`` / ``workbench eval`` (and ``wb.run_notebook``):
it writes ``governance/card.md`` and ``governance/card.html`` and then scans the run for the values of the
configured API-key variables (:func:`scan_run`). A hit fails the run and names where it was found — never the
value. The card is built only from what the run recorded: params, tags, metrics, dataset inputs, the
evaluation summary table; endpoints appear as name, kind and URL, keys as the *name* of their variable.
With the workspace switch ``[privacy] redact_pii`` on, PII in the card is redacted.
HTML rendering: markdown-it-py (CommonMark, with tables).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import getpass
import os
import shlex
import socket
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import tags as T
from .config import settings
from .secrets import mask_url, scrub, secret_env_values

LIMITATIONS = [
    "Offline metrics are heuristics: groundedness checks quantities, negations and contrast words, then "
    "embedding/word overlap per sentence; toxicity and refusal are pattern screens with a small logistic head "
    "over a sentence embedding; none is a human judgement (measured accuracy in docs/metrics.md).",
    "Confidence intervals are 95 % intervals over rows of one evaluation set (studentized bootstrap for means, "
    "Clopper-Pearson for rates); they say nothing about questions unlike those in the set.",
    "Costs use the dated price table shipped with the workbench; local models report compute seconds, not dollars.",
    "Token counts for models without a tokenizer endpoint are approximations (see the README).",
]
SKIP_PARAM_PREFIXES = ("candidate.", "dataset.")
LIBRARIES = (
    "llmops-workbench",
    "mlflow",
    "openai",
    "papermill",
    "pandas",
    "numpy",
    "faiss-cpu",
    "onnxruntime",
    "torch",
    "transformers",
    "peft",
)


def audit_tags() -> dict[str, str]:
    """Who, when, where and how a run was launched (tags ``workbench.user/host/launched_at/command``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {
        T.USER: user,
        T.HOST: socket.gethostname(),
        T.LAUNCHED_AT: _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        T.COMMAND: scrub(shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]]))[:500],
    }


def git_info(where: Path) -> dict[str, str]:
    """Commit and dirty flag of the git work tree holding ``where`` (a file or directory); {} outside git."""
    import subprocess

    cwd = where if where.is_dir() else where.parent

    def git(*args):
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10)

    try:
        head = git("rev-parse", "HEAD")
        if head.returncode != 0:
            return {}
        dirty = git("status", "--porcelain", "--untracked-files=no")
        return {T.GIT_COMMIT: head.stdout.strip(), T.GIT_DIRTY: str(bool(dirty.stdout.strip())).lower()}
    except (OSError, subprocess.TimeoutExpired):
        return {}


def _endpoint_line(spec: str) -> str:
    try:
        ep, model = settings().resolve_model(spec)
    except Exception:  # noqa: BLE001 - an unknown spec is still worth listing
        return f"`{spec}`"
    from .llm.endpoints import kind_of

    where = kind_of(ep).describe(ep)
    key = f", key from `${ep.api_key_env}`" if getattr(ep, "api_key_env", None) else ""
    return f"`{spec}` → endpoint `{ep.name}` ({ep.kind}, {where}{key}), model `{model}`"


def _table(rows: list[dict], cols: list[str]) -> str:
    def cell(v) -> str:
        if isinstance(v, float):
            v = f"{v:.4g}"
        return str("" if v is None else v).replace("|", "\\|").replace("\n", " ")[:300]

    if not rows:
        return "_none recorded_\n"
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(cell(r.get(c)) for c in cols) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _library_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for dist in LIBRARIES:
        try:
            out[dist] = version(dist)
        except PackageNotFoundError:
            pass
    return out


def build_card(run_id: str, status: str | None = None) -> str:
    """The governance card of run ``run_id`` as Markdown (``status``: the final status, when the card is
    written just before the run is terminated)."""
    import math

    from . import tracking

    c = tracking.client()
    run = c.get_run(run_id)
    p, t, m = run.data.params, run.data.tags, run.data.metrics
    exp = c.get_experiment(run.info.experiment_id)
    started = _dt.datetime.fromtimestamp(run.info.start_time / 1000, _dt.UTC).isoformat(timespec="seconds")
    lines = [
        f"# Governance card — {run.info.run_name}",
        "",
        f"- **Run**: `{run_id}` in experiment `{exp.name}`, status **{status or run.info.status}**, started {started}",
        f"- **Launched by** `{t.get(T.USER, t.get('mlflow.user', '?'))}` on "
        f"`{t.get(T.HOST, '?')}` at {t.get(T.LAUNCHED_AT, started)}",
        f"- **Command**: `{t.get(T.COMMAND, '?')}`",
        f"- **Notebook**: `{t.get(T.NOTEBOOK, '-')}` (sources sha256 `{t.get(T.NOTEBOOK_HASH, '-')[:16]}`)",
        f"- **Code**: commit `{t.get(T.GIT_COMMIT, 'unknown')}`"
        f"{' (uncommitted changes)' if t.get(T.GIT_DIRTY) == 'true' else ''}",
        "",
    ]
    # prompts
    lines += ["## Prompt templates", ""]
    prompt_rows = [
        {"source": k, "value": v}
        for k, v in p.items()
        if any(w in k.lower() for w in ("template", "system_prompt", "prompt"))
    ]
    prompt_rows += [
        {"source": f"registry: {k.removeprefix(T.PROMPT_PREFIX)}", "value": f"version {v}"}
        for k, v in t.items()
        if k.startswith(T.PROMPT_PREFIX)
    ]
    lines += [_table(prompt_rows, ["source", "value"])]
    # datasets
    lines += ["## Datasets", ""]
    ds = [
        {
            "name": d.dataset.name,
            "digest": d.dataset.digest,
            "source": d.dataset.source_type,
            "context": next((tg.value for tg in d.tags if tg.key == "mlflow.data.context"), ""),
        }
        for d in (run.inputs.dataset_inputs if run.inputs else [])
    ]
    if not ds and p.get("dataset.digest"):
        ds = [{"name": p.get("dataset.name", "?"), "digest": p["dataset.digest"], "source": "param", "context": ""}]
    lines += [_table(ds, ["name", "digest", "source", "context"])]
    # models
    specs = sorted(
        {v for k, v in p.items() if k == "model" or k.endswith(".model") or k.endswith("_model") or k == "models"}
        - {"", "None"}
    )
    lines += ["## Models and endpoints (never keys)", ""]
    lines += [f"- {_endpoint_line(s)}" for s in specs] or ["_none recorded_"]
    lines += [""]
    # params
    lines += ["## Parameters", ""]
    lines += [
        _table(
            [{"name": k, "value": v} for k, v in sorted(p.items()) if not k.startswith(SKIP_PARAM_PREFIXES)],
            ["name", "value"],
        )
    ]
    cand = {k: v for k, v in p.items() if k.startswith("candidate.")}
    if cand:
        lines += [
            "### Candidates",
            "",
            _table(
                [{"name": k.removeprefix("candidate."), "value": v} for k, v in sorted(cand.items())], ["name", "value"]
            ),
        ]
    # metrics with CIs
    lines += ["## Metrics", ""]
    summary = None
    try:
        summary = tracking.load_table(run_id, "eval_summary.json")
    except Exception:  # noqa: BLE001 - not an evaluation run
        pass
    if summary is not None and len(summary):
        rows = []
        for r in summary.to_dict(orient="records"):
            lo, hi = r.get("ci_low"), r.get("ci_high")
            ci = (
                f"[{lo:.3g}, {hi:.3g}]"
                if isinstance(lo, float) and isinstance(hi, float) and not (math.isnan(lo) or math.isnan(hi))
                else ""
            )
            rows.append(
                {"candidate": r["candidate"], "metric": r["metric"], "value": r["value"], "95% CI": ci, "n": r.get("n")}
            )
        lines += [_table(rows, ["candidate", "metric", "value", "95% CI", "n"])]
    else:
        lines += [_table([{"metric": k, "value": v} for k, v in sorted(m.items())], ["metric", "value"])]
    # red team
    lines += ["## Red-team and harm summary", ""]
    harm = {k: v for k, v in m.items() if "harm/" in k or "redteam" in k}
    if harm:
        lines += [f"- `{k}`: {v:.4g}" for k, v in sorted(harm.items())]
    else:
        lines += ["_No harm metrics in this run: it was not evaluated on the red-team set._"]
    lines += ["", "## Known limitations", ""]
    lim = list(LIMITATIONS)
    if t.get(T.EVAL_STOPPED, "no") != "no":
        lim.insert(0, f"The evaluation stopped early ({t[T.EVAL_STOPPED]}): the metrics cover part of the set.")
    if t.get(T.ERROR):
        lim.insert(0, f"The run failed: {t[T.ERROR][:300]}")
    lines += [f"- {x}" for x in lim]
    deps = {
        k.removeprefix("workbench.").removesuffix("_version"): v
        for k, v in t.items()
        if k.endswith(("_version", ".python"))
    }
    deps = {**deps, **_library_versions()}
    lines += ["", "## Software", "", ", ".join(f"{k} {v}" for k, v in sorted(deps.items())) or "_unknown_", ""]
    text = "\n".join(lines)
    if settings().redact_pii:
        from .pii import redact

        text = redact(text)
    return text


def render_html(markdown: str, title: str = "Governance card") -> str:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark").enable("table").render(markdown)
    style = (
        "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
        "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.25rem .5rem;"
        "font-size:.9rem;text-align:left;vertical-align:top}code{background:#f4f4f4;padding:0 .2rem}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title><style>{style}</style></head>"
        f"<body>{body}</body></html>"
    )


def log_card(run_id: str, status: str | None = None) -> str:
    """Build the card and log it as ``governance/card.md`` and ``governance/card.html``; returns the Markdown."""
    from . import tracking

    md = build_card(run_id, status)
    for name, value in sorted(secret_env_values().items(), key=lambda kv: -len(kv[1])):
        md = md.replace(value, f"<value of ${name}>")  # a key that reached a param must not be copied here too
    md = mask_url(md)
    tracking.log_text(md, "governance/card.md", run_id=run_id)
    tracking.log_text(render_html(md), "governance/card.html", run_id=run_id)
    tracking.set_tags({T.DESCRIPTION: description(md)}, run_id)  # the run page's Description shows it
    return md


def description(card_md: str, max_chars: int = 4000) -> str:
    """The card's summary for the MLflow run description: its header lines and first sections, then a pointer
    to the full card."""
    keep, sections = [], 0
    for line in card_md.splitlines():
        if line.startswith("## "):
            sections += 1
            if sections > 3:
                break
        keep.append(line)
    text = "\n".join(keep).strip()
    if len(text) > max_chars:
        text = text[:max_chars].rsplit("\n", 1)[0]
    return text + "\n\n_Full governance card: artifact `governance/card.html`._"


# ------------------------------------------------------------------ secret scan


@dataclass
class ScanResult:
    hits: list[str] = field(default_factory=list)  # "value of $OPENAI_API_KEY in artifact notebook/x.ipynb (line 3)"
    scanned_files: int = 0
    scanned_bytes: int = 0
    scanned_traces: int = 0
    removed: list[str] = field(default_factory=list)  # artifacts/files deleted because they held a secret

    @property
    def ok(self) -> bool:
        return not self.hits


SCAN_CHUNK = 8 << 20  # files are read in chunks: no file is too big to scan


def _scan_bytes(data: bytes, secrets: dict[str, bytes], where: str, hits: list[str], line0: int = 0) -> bool:
    found = False
    for name, value in secrets.items():
        if value in data:
            line = line0 + data[: data.index(value)].count(b"\n") + 1
            hits.append(f"value of ${name} in {where} (line {line})")
            found = True
    return found


def _scan_file(path: Path, secrets: dict[str, bytes], where: str, res: ScanResult) -> bool:
    """Stream ``path`` in chunks (overlapping by the longest secret, so none is cut in two); True on a hit.
    One hit per secret and file."""
    overlap = max(map(len, secrets.values())) - 1
    todo = dict(secrets)
    tail, lines = b"", 0  # lines: newlines before ``tail``
    res.scanned_files += 1
    with open(path, "rb") as f:
        while todo and (chunk := f.read(SCAN_CHUNK)):
            res.scanned_bytes += len(chunk)
            data = tail + chunk
            for name in [n for n, v in todo.items() if v in data]:
                _scan_bytes(data, {name: todo.pop(name)}, where, res.hits, lines)
            keep = data[-overlap:] if overlap > 0 else b""
            lines += data.count(b"\n") - keep.count(b"\n")
            tail = keep
    return len(todo) < len(secrets)


def _remove_artifact(run_id: str, artifact_uri: str, rel: str) -> bool:
    """Delete one artifact of a run (its store's ``delete_artifacts``); False where the store cannot."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    try:
        get_artifact_repository(artifact_uri).delete_artifacts(rel)
        return True
    except Exception:  # noqa: BLE001 - a store without deletion: the hit is still reported
        return False


TRACE_PAGE = 200  # traces fetched per page by the scan


def _json_bytes(value) -> bytes:
    import json

    return json.dumps(value, ensure_ascii=False, default=str).encode()


def _family(c, run) -> list:
    """The run and its child runs (an evaluation's candidate runs)."""
    kids = c.search_runs([run.info.experiment_id], f"tags.mlflow.parentRunId = '{run.info.run_id}'", max_results=1000)
    return [run, *kids]


def _scan_traces(c, run, secrets: dict[str, bytes], res: ScanResult, remove: bool) -> None:
    """Every span (inputs, outputs, attributes, events) and assessment (values, rationales, error texts) of the
    traces linked to ``run``; ``remove``: delete a trace holding a secret."""
    leaked, token = [], None
    for _ in range(100_000 // TRACE_PAGE):  # bounded: 100k traces per run
        page = c.search_traces(
            locations=[run.info.experiment_id],
            run_id=run.info.run_id,
            max_results=TRACE_PAGE,
            page_token=token,
            include_spans=True,
        )
        for tr in page:
            tid, before = tr.info.trace_id, len(res.hits)
            _scan_bytes(
                _json_bytes(
                    {
                        "tags": tr.info.tags,
                        "metadata": tr.info.trace_metadata,
                        "preview": [tr.info.request_preview, tr.info.response_preview],
                    }
                ),
                secrets,
                f"trace {tid} (info)",
                res.hits,
            )
            for span in tr.data.spans if tr.data else []:
                _scan_bytes(_json_bytes(span.to_dict()), secrets, f"trace {tid} span '{span.name}'", res.hits)
            for a in tr.info.assessments or []:
                _scan_bytes(_json_bytes(a.to_dictionary()), secrets, f"trace {tid} assessment '{a.name}'", res.hits)
            res.scanned_traces += 1
            if len(res.hits) > before:
                leaked.append(tid)
        token = page.token
        if not token:
            break
    if remove and leaked:
        for i in range(0, len(leaked), 100):
            with contextlib.suppress(Exception):  # a store that cannot delete: the hits still fail the run
                c.delete_traces(run.info.experiment_id, trace_ids=leaked[i : i + 100])
                res.removed += [f"trace {t}" for t in leaked[i : i + 100]]


def _scan_logged_models(c, run, secrets: dict[str, bytes], res: ScanResult) -> None:
    """Params and tags of the LoggedModels the run created or used."""
    ids = {m.model_id for m in (run.inputs.model_inputs if run.inputs else []) or []}
    ids |= {m.model_id for m in (run.outputs.model_outputs if run.outputs else []) or []}
    with contextlib.suppress(Exception):  # a store without LoggedModels
        ids |= {
            m.model_id
            for m in c.search_logged_models(
                [run.info.experiment_id], filter_string=f"source_run_id = '{run.info.run_id}'", max_results=1000
            )
        }
    for mid in sorted(ids):
        m = c.get_logged_model(mid)
        for kind, items in (("param", m.params or {}), ("tag", m.tags or {})):
            for k, v in items.items():
                _scan_bytes(str(v).encode(), secrets, f"LoggedModel {m.name} ({mid}) {kind} '{k}'", res.hits)


def _scan_cache(secrets: dict[str, bytes], res: ScanResult, remove: bool) -> None:
    """The response cache (and its write-ahead log); ``remove``: delete the cached records holding a secret."""
    import sqlite3

    db = Path(settings().cache_db)
    hits = ScanResult()
    for f in (db, Path(f"{db}-wal")):
        if f.is_file():
            _scan_file(f, secrets, f"response cache {f.name}", hits)
    res.scanned_files += hits.scanned_files
    res.scanned_bytes += hits.scanned_bytes
    res.hits += hits.hits
    if remove and hits.hits:
        with contextlib.suppress(sqlite3.Error), contextlib.closing(sqlite3.connect(db, timeout=30)) as con:
            n = sum(
                con.execute(
                    "DELETE FROM responses WHERE instr(record, ?) > 0 OR instr(key, ?) > 0", (v.decode(), v.decode())
                ).rowcount
                for v in secrets.values()
            )
            con.commit()
            con.execute("VACUUM")  # the deleted pages must not keep the text
            res.removed.append(f"{n} response cache record(s)")


def scan_run(run_id: str, extra_files: Sequence[str | Path] = (), remove: bool = False) -> ScanResult:
    """Look for the values of the configured API-key variables (and the userinfo of URLs in the environment)
    everywhere the run wrote: the params and tags of the run and its child runs, their artifacts, the spans and
    assessments of their traces, their LoggedModels' params and tags, the response cache, the evaluation
    checkpoint (tag ``workbench.eval.checkpoint``) and ``extra_files`` (the executed notebook). Every file is
    read whole, in chunks. Local artifact stores are read in place; others are downloaded. ``remove``: delete
    each artifact, file or trace holding a secret, and the cache records holding one (listed in ``removed``)."""
    from . import tracking

    secrets = {k: v.encode() for k, v in secret_env_values().items()}
    res = ScanResult()
    if not secrets:
        return res
    c = tracking.client()
    run = c.get_run(run_id)
    from .tracing import flush

    flush()  # queued row traces must be in the store before it is read
    for r in _family(c, run):
        who = "" if r.info.run_id == run_id else f" of child run {r.info.run_name or r.info.run_id}"
        for kind, items in (("param", r.data.params), ("tag", r.data.tags)):
            for k, v in items.items():
                _scan_bytes(str(v).encode(), secrets, f"{kind} '{k}'{who}", res.hits)
        _scan_traces(c, r, secrets, res, remove)
        _scan_logged_models(c, r, secrets, res)
        if r.info.run_id != run_id:
            _scan_artifacts(c, r, secrets, res, remove)
    _scan_cache(secrets, res, remove)
    files = [Path(p) for p in extra_files]
    if run.data.tags.get(T.EVAL_CHECKPOINT):
        files.append(Path(run.data.tags[T.EVAL_CHECKPOINT]))
    for p in dict.fromkeys(files):
        if p.is_file() and _scan_file(p, secrets, f"file {p}", res) and remove:
            p.unlink(missing_ok=True)
            res.removed.append(f"file {p}")
    _scan_artifacts(c, run, secrets, res, remove)
    return res


def _scan_artifacts(c, run, secrets: dict[str, bytes], res: ScanResult, remove: bool) -> None:
    run_id, uri = run.info.run_id, run.info.artifact_uri
    with tempfile.TemporaryDirectory() as tmp:
        if uri.startswith("file:") or uri.startswith("/"):
            from urllib.parse import unquote, urlparse

            root = Path(unquote(urlparse(uri).path)) if uri.startswith("file:") else Path(uri)
        else:
            root = Path(c.download_artifacts(run_id, "", tmp))
        if root.exists():
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root).as_posix()
                if f.is_file() and _scan_file(f, secrets, f"artifact {rel}", res) and remove:
                    if _remove_artifact(run_id, uri, rel):
                        res.removed.append(f"artifact {rel}")


@dataclass
class Governance:
    card: str | None
    scan: ScanResult
    error: str | None = None  # set when the scan found a secret or the card failed


def govern_run(run_id: str, extra_files: Sequence[str | Path] = (), status: str | None = None) -> Governance:
    """Card, then secret scan (the card is scanned too). On a hit the run gets tag
    ``workbench.secret_scan = FAILED: ...`` and the returned ``error`` says where; the caller fails the run."""
    from . import tracking

    card, error = None, None
    try:
        card = log_card(run_id, status)
    except Exception as e:  # noqa: BLE001 - a card failure is reported, the scan still runs
        error = f"governance card failed: {type(e).__name__}: {e}"
    try:
        scan = scan_run(run_id, extra_files, remove=True)
    except Exception as e:  # noqa: BLE001 - an unfinished scan fails the run: "no hit" is not proven
        tracking.set_tags({T.SECRET_SCAN: "FAILED: could not complete"}, run_id)
        return Governance(card, ScanResult(), f"secret scan could not complete: {type(e).__name__}: {e}")
    if scan.hits:
        error = "secret scan: " + "; ".join(scan.hits[:10]) + (" …" if len(scan.hits) > 10 else "")
        gone = (
            f"; deleted {len(scan.removed)} file(s) holding it: {', '.join(scan.removed[:10])}" if scan.removed else ""
        )
        error += gone
        tracking.set_tags({T.SECRET_SCAN: f"FAILED: {len(scan.hits)} hit(s){gone}"[:5000]}, run_id)
    else:
        tracking.set_tags({T.SECRET_SCAN: f"passed ({scan.scanned_files} files, {scan.scanned_traces} traces)"}, run_id)
    return Governance(card, scan, error)
