"""The prompt playground: edit a template with variables, pick models and generation params, run, compare
outputs side by side (one row per model and variable set) with tokens, latency, TTFT and cost; log the
comparison to MLflow; save the template to the MLflow prompt registry.

The calls run on a background thread, so the notebook stays responsive: answers stream into the table as they
arrive, a progress bar counts finished calls, and **Cancel** stops the calls still in flight. Whatever a user
types — invalid JSON, a template variable the JSON lacks, an unknown model, an endpoint that is down — ends as a
readable message in the widget, never as a traceback in the log console. Prompt logic is in
:mod:`workbench.prompts`; this is only the UI.
"""

from __future__ import annotations

import asyncio
import getpass
import html
import json
import threading
import time
import uuid
from dataclasses import dataclass, field

import pandas as pd

from .. import prompts
from ..errors import WorkbenchError

RESULT_COLUMNS = [
    "model",
    "variables",
    "output",
    "prompt_tokens",
    "completion_tokens",
    "latency_s",
    "ttft_s",
    "cost_usd",
    "error",
]


def readable(e: BaseException) -> str:
    """A one-line message for a user's mistake or a failed call (no traceback)."""
    if isinstance(e, json.JSONDecodeError):
        return f"variables: invalid JSON at line {e.lineno}, column {e.colno}: {e.msg}"
    if isinstance(e, WorkbenchError):
        return str(e)
    return f"{type(e).__name__}: {e}"


def model_options(specs: list[str] | None = None) -> tuple[list[str], list[str], list[str]]:
    """(options, chosen, problems): every configured ``endpoint:model`` with a key, the ``specs`` (aliases,
    endpoint names or ``endpoint:model``) resolved to those names, and a message per spec that does not resolve."""
    from ..config import settings
    from ..llm.endpoints import kind_of, resolve

    options, problems = [], []
    for ep in settings().endpoints.values():
        if not ep.has_key():
            continue
        try:
            options += [f"{ep.name}:{m}" for m in kind_of(ep).models(ep)]
        except Exception as e:  # noqa: BLE001 - one broken endpoint must not hide the others
            problems.append(f"endpoint {ep.name}: {readable(e)}")
    chosen = []
    for spec in [s.strip() for s in specs or [] if s and s.strip()]:
        try:
            ep, model, _ = resolve(spec)
        except Exception as e:  # noqa: BLE001
            problems.append(readable(e))
            continue
        name = f"{ep.name}:{model}"
        if name not in options:
            options.append(name)
        if name not in chosen:
            chosen.append(name)
    return options, chosen or options[:1], problems


@dataclass
class Job:
    """What one click runs: prompts rendered per variable set, for each model."""

    models: list[str]
    rows: list[dict]
    prompts: list[str]
    system: str | None
    params: dict = field(default_factory=dict)

    @property
    def calls(self) -> list[tuple[str, int]]:
        return [(m, i) for m in self.models for i in range(len(self.rows))]


def parse_job(template: str, variables: str, models: list[str], system: str = "", **params) -> Job:
    """Validate what the user typed; a :class:`WorkbenchError` with a readable message when it is wrong."""
    try:
        v = json.loads(variables or "{}")
    except json.JSONDecodeError as e:
        raise WorkbenchError(readable(e)) from None
    rows = v if isinstance(v, list) else [v]
    if not rows or not all(isinstance(r, dict) for r in rows):
        raise WorkbenchError('variables: expected a JSON object like {"question": "..."} or a list of them')
    if not models:
        raise WorkbenchError("models: choose at least one model")
    rendered = []
    for i, r in enumerate(rows):
        missing = [name for name in prompts.variables(template) if name not in r]
        if missing:
            where = f"variable set {i + 1}" if len(rows) > 1 else "variables"
            raise WorkbenchError(
                f'template uses {{{missing[0]}}} but {where} has no "{missing[0]}" (it has {sorted(r) or "nothing"})'
            )
        rendered.append(prompts.render(template, r))
    return Job(list(models), rows, rendered, system or None, params)


def _cell(v) -> str:
    """A results-table cell as text: empty for a missing value, 3 decimals for a float."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    return f"{v:.3f}" if isinstance(v, float) else str(v)


class Playground:
    def __init__(
        self,
        template: str = "Answer in one sentence: {question}",
        variables: dict | list | None = None,
        models: list[str] | str | None = None,
        system: str | None = None,
        temperature: float = 0.0,
        max_tokens: int = 128,
    ):
        import ipywidgets as w

        if isinstance(models, str):
            models = models.split(",")
        options, chosen, problems = model_options(models)
        self.template = w.Textarea(value=template, description="template", layout=w.Layout(width="100%", height="80px"))
        self.variables = w.Textarea(
            value=json.dumps(variables or {"question": "What is a tent footprint?"}),
            description="variables",
            layout=w.Layout(width="100%", height="60px"),
        )
        self.system = w.Text(value=system or "", description="system")
        self.models = w.SelectMultiple(options=options, value=tuple(chosen), description="models")
        self.temperature = w.FloatSlider(value=temperature, min=0, max=2, step=0.1, description="temperature")
        self.max_tokens = w.IntSlider(value=max_tokens, min=1, max=1024, description="max_tokens")
        self.prompt_name = w.Text(value="contoso-assistant", description="prompt name")
        self.run_button = w.Button(description="Run", button_style="primary")
        self.cancel_button = w.Button(description="Cancel", button_style="warning", disabled=True)
        self.log_button = w.Button(description="Log to MLflow")
        self.save_button = w.Button(description="Save prompt")
        self.progress = w.IntProgress(value=0, min=0, max=1, description="calls", layout=w.Layout(visibility="hidden"))
        self.status = w.HTML()
        self.table = w.HTML()
        self.results: pd.DataFrame | None = None
        # MLflow's session and user on the traces of this playground's calls (when tracing is on)
        self.session_id, self.user = f"playground-{uuid.uuid4().hex[:12]}", getpass.getuser()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: list[asyncio.Task] = []
        self.run_button.on_click(lambda _: self._guard(self.start))
        self.cancel_button.on_click(lambda _: self.cancel())
        self.log_button.on_click(lambda _: self._guard(self.log))
        self.save_button.on_click(lambda _: self._guard(self.save))
        self.widget = w.VBox(
            [
                self.template,
                self.variables,
                self.system,
                self.models,
                w.HBox([self.temperature, self.max_tokens]),
                w.HBox([self.run_button, self.cancel_button, self.progress]),
                w.HBox([self.log_button, self.prompt_name, self.save_button]),
                self.status,
                self.table,
            ]
        )
        self.widget.add_class("wb-playground")
        if problems:
            self.message("; ".join(problems), error=True)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    # ------------------------------------------------------------------ messages

    def message(self, text: str, error: bool = False) -> None:
        color = "#b00020" if error else "#1b5e20"
        self.status.value = (
            f'<span class="wb-{"error" if error else "status"}" style="color:{color}">'
            f"{html.escape(text, quote=False)}</span>"
        )

    def _guard(self, action) -> None:
        """Run a button's action; any failure becomes a message in the widget (button callbacks must not raise)."""
        try:
            action()
        except Exception as e:  # noqa: BLE001 - the user sees every failure as a message, never a traceback
            self.message(readable(e), error=True)

    # ------------------------------------------------------------------ running

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def job(self) -> Job:
        return parse_job(
            self.template.value,
            self.variables.value,
            list(self.models.value),
            self.system.value,
            temperature=self.temperature.value,
            max_tokens=self.max_tokens.value,
        )

    def start(self) -> threading.Thread:
        """Validate the inputs and start the calls on a background thread (what **Run** does)."""
        if self.running:
            raise WorkbenchError("still running: wait, or press Cancel")
        job = self.job()
        self.progress.max, self.progress.value = len(job.calls), 0
        self.progress.layout.visibility = "visible"
        self.run_button.disabled, self.cancel_button.disabled = True, False
        self.message(f"running {len(job.calls)} call(s)…")
        self._thread = threading.Thread(target=self._work, args=(job,), name="workbench-playground", daemon=True)
        self._thread.start()
        return self._thread

    def run(self, timeout_s: float = 600) -> pd.DataFrame:
        """Run and wait (for scripts and tests); raises :class:`WorkbenchError` for invalid inputs."""
        thread = self.start()
        thread.join(timeout_s)
        if self.running:
            self.cancel()
            thread.join(30)
        return self.results

    def cancel(self) -> None:
        """Stop the calls still in flight; finished ones stay in the table."""
        loop = self._loop
        if loop is not None and self.running:
            for t in list(self._tasks):
                loop.call_soon_threadsafe(t.cancel)

    def _work(self, job: Job) -> None:
        from .. import tracing
        from ..llm.client import ChatRecord, default_client, run_sync

        t0 = time.monotonic()
        recs: dict[tuple[str, int], ChatRecord] = {}
        streamed: dict[tuple[str, int], str] = {}

        async def one(key, client):
            model, i = key
            with tracing.session(self.session_id, self.user):  # MLflow's session and user on its traces
                rec = await client.achat(
                    job.prompts[i],
                    model,
                    system=job.system,
                    on_delta=lambda d: self._delta(job, streamed, recs, key, d),
                    **job.params,
                )
            recs[key] = rec
            self.progress.value = len(recs)
            self._render(job, recs, streamed)

        async def main():  # on the workbench's shared event loop (connections are reused across clicks)
            self._loop, client = asyncio.get_running_loop(), default_client("use")
            self._tasks = [asyncio.ensure_future(one(key, client)) for key in job.calls]
            done = await asyncio.gather(*self._tasks, return_exceptions=True)
            return [d for d in done if isinstance(d, BaseException) and not isinstance(d, asyncio.CancelledError)]

        cancelled = False
        try:
            failures = run_sync(main())
            cancelled = any(t.cancelled() for t in self._tasks)
            self.results = self._frame(job, recs, streamed)
            self._render(job, recs, streamed)
            errors = self.results["error"].notna().sum()
            took = f"{time.monotonic() - t0:.1f}s"
            if failures:
                self.message(readable(failures[0]), error=True)
            elif cancelled:
                self.message(f"cancelled after {took}: {len(recs)} of {len(job.calls)} call(s) finished", error=True)
            elif errors:
                first = self.results[self.results["error"].notna()].iloc[0]
                self.message(
                    f"{errors} of {len(job.calls)} call(s) failed — {first['model']}: {first['error']}"
                    f" (is the endpoint up? `workbench models` shows its health)",
                    error=True,
                )
            else:
                self.message(f"{len(job.calls)} call(s) done in {took}")
        except Exception as e:  # noqa: BLE001 - the background thread reports into the widget
            self.message(readable(e), error=True)
        finally:
            self._loop, self._tasks = None, []
            self.run_button.disabled, self.cancel_button.disabled = False, True
            self.progress.layout.visibility = "hidden"

    def _delta(self, job, streamed, recs, key, piece: str) -> None:
        streamed[key] = streamed.get(key, "") + piece
        now = time.monotonic()
        if now - getattr(self, "_drawn", 0) > 0.25:  # redraw at most 4 times a second while tokens stream
            self._drawn = now
            self._render(job, recs, streamed)

    @staticmethod
    def _frame(job: Job, recs: dict, streamed: dict, running: bool = False) -> pd.DataFrame:
        out = []
        for model, i in job.calls:
            rec = recs.get((model, i))
            base = {
                "model": model,
                "variables": json.dumps(job.rows[i]),
                "template": 0,
                "row": i,
                "prompt": job.prompts[i],
            }
            if rec is None:
                part = streamed.get((model, i))
                out.append({**base, "output": part or "", "error": "in progress" if running else "not finished"})
            else:
                out.append(
                    {
                        **base,
                        "output": rec.text,
                        **rec.measures(),
                        "error": None if rec.ok else f"{rec.error}: {rec.error_message or ''}".rstrip(": "),
                    }
                )
        return (
            pd.DataFrame(out)
            .astype(object)
            .where(lambda d: d.notna(), None)
            .reindex(columns=[*RESULT_COLUMNS, "template", "row", "prompt", "tokens_per_s", "cache_hit"])
        )

    def _render(self, job, recs, streamed) -> None:
        view = self._frame(job, recs, streamed, running=self.running)[RESULT_COLUMNS]
        if len(job.rows) == 1:
            view = view.drop(columns="variables")
        self.table.value = view.map(_cell).to_html(index=False, classes="wb-playground-results", border=0)

    # ------------------------------------------------------------------ logging and saving

    def log(self) -> str:
        from .. import tracking

        if self.results is None:
            raise WorkbenchError("nothing to log yet: press Run first")
        rid = tracking.current_run_id()
        tracking.log_table(self.results, "playground.json", run_id=rid)
        tracking.set_tags(
            {
                "playground.template": self.template.value[:5000],
                "playground.system": self.system.value,
                "playground.temperature": self.temperature.value,
                "playground.max_tokens": self.max_tokens.value,
            },
            run_id=rid,
        )
        self.message(f"logged {len(self.results)} row(s) to run {rid} (artifact playground.json)")
        return rid

    def save(self) -> int:
        version = prompts.register(self.prompt_name.value, self.template.value, alias="current")
        self.message(f"saved {self.prompt_name.value} version {version} (alias current)")
        return version
