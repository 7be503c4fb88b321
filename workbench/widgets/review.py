"""Review two evaluations side by side, row by row: filter to flipped or failed rows, see a word diff of the two
answers, label each row (good / bad / note). Every label is written at once to a JSONL file (nothing is lost when
the kernel dies). When the rows have traces (candidate B's), they are the items of an MLflow review queue (the
experiment's **Review** page, :mod:`workbench.evaluate.queues`): each label is written at once as the queue's answer
(a HUMAN ``review/label`` Feedback on the trace, the item marked reviewed), and labels given in the Review page are
read back when the widget opens. **Save to MLflow** logs the labels as a table (``review_labels.json``) and a
dataset input of the current run, so the labelled rows become a new dataset version."""

from __future__ import annotations

import difflib
import html
import json
import time
import warnings
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import WorkbenchError
from ..evaluate.compare import side


def word_diff(a: str | None, b: str | None) -> str:
    """HTML of ``b`` against ``a`` word by word: removed words struck through in red, added ones in green."""
    wa, wb = str(a or "").split(), str(b or "").split()
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes():
        if op in ("delete", "replace"):
            out.append(f'<del style="color:#b00020">{html.escape(" ".join(wa[i1:i2]))}</del>')
        if op in ("insert", "replace"):
            out.append(f'<ins style="color:#1b5e20">{html.escape(" ".join(wb[j1:j2]))}</ins>')
        if op == "equal":
            out.append(html.escape(" ".join(wa[i1:i2])))
    return " ".join(out)


def default_labels_path() -> Path:
    from ..config import settings

    return Path(settings().project_dir) / ".workbench" / "review" / f"labels-{time.strftime('%Y%m%d-%H%M%S')}.jsonl"


class Review:
    def __init__(
        self,
        run_a,
        run_b=None,
        metric: str = "quality/f1",
        candidate_a: str | None = None,
        candidate_b: str | None = None,
        labels_path: str | Path | None = None,
        queue: str | None = None,
    ):
        """``run_a``/``run_b``: EvalResults, row DataFrames or run ids; ``run_b`` defaults to ``run_a`` (then
        name the two candidates to compare within it). ``queue``: the name of the MLflow review queue of B's row
        traces (default ``review <run name>``; ``""``: no queue)."""
        import ipywidgets as w

        a = side(run_a, candidate_a).rows.reset_index(drop=True)
        b = side(run_a if run_b is None else run_b, candidate_b).rows.reset_index(drop=True)
        keep = ["id", "repeat", "input", "reference", "answer", "error", "trace_id", metric]
        self.metric = metric
        self.rows = a[[c for c in keep if c in a]].merge(
            b[[c for c in keep if c in b]], on=["id", "repeat"], suffixes=("_a", "_b")
        )
        if self.rows.empty:
            raise WorkbenchError(
                "the two evaluations share no rows (matched on id and repeat): review runs made on the same dataset"
            )
        self.labels_path = Path(labels_path) if labels_path else default_labels_path()
        self.labels: dict[str, dict] = {}
        self.sent: set[str] = set()  # rows whose label is already on their trace
        self.queue: Any = None  # the MLflow ReviewQueue of the rows, when they have traces
        self.status = w.HTML()
        if queue != "":
            self._guard(lambda: self.open_queue(queue))
        self.filter = w.ToggleButtons(options=["all", "flipped", "failed"], description="show")
        self.index = 0
        self.view = w.HTML()
        self.note = w.Text(description="note")
        self.good = w.Button(description="good", button_style="success")
        self.bad = w.Button(description="bad", button_style="danger")
        self.prev = w.Button(description="◀")
        self.next = w.Button(description="▶")
        self.save_button = w.Button(description="Save to MLflow")
        self.good.on_click(lambda _: self._guard(lambda: self.label("good")))
        self.bad.on_click(lambda _: self._guard(lambda: self.label("bad")))
        self.prev.on_click(lambda _: self.move(-1))
        self.next.on_click(lambda _: self.move(1))
        self.save_button.on_click(lambda _: self._guard(self.save_labels))
        self.filter.observe(lambda _: self.move(0, reset=True), names="value")
        self.widget = w.VBox(
            [
                self.filter,
                self.view,
                self.note,
                w.HBox([self.prev, self.good, self.bad, self.next, self.save_button]),
                self.status,
            ]
        )
        self.widget.add_class("wb-review")
        self.move(0, reset=True)

    def traces(self) -> dict[str, str]:
        """Row id → candidate B's trace id, for the rows that have one."""
        if "trace_id_b" not in self.rows:
            return {}
        return {str(r["id"]): r["trace_id_b"] for _, r in self.rows.iterrows() if isinstance(r["trace_id_b"], str)}

    def open_queue(self, name: str | None = None):
        """Attach B's row traces to the MLflow review queue ``name`` (default ``review <B's run name>``) and
        take the labels already given there; None when the rows have no traces."""
        import mlflow

        from ..evaluate import queues

        traces = self.traces()
        if not traces:
            return None
        trace = mlflow.get_trace(next(iter(traces.values())))
        if trace is None:
            raise WorkbenchError("the rows' traces are not in this tracking store: no review queue")
        info = trace.info
        if name is None:
            run_id = info.trace_metadata.get("mlflow.sourceRun")
            run = mlflow.get_run(run_id).info.run_name if run_id else None
            name = f"review {run or info.experiment_id}"
        queue = self.queue = queues.review_queue(info.experiment_id, name, list(traces.values()))
        given = queues.queue_labels(queue.queue_id)
        for rid, tid in traces.items():
            if tid in given and rid not in self.labels:
                self.labels[rid] = {"label": given[tid].label, "note": given[tid].note or ""}
                self.sent.add(rid)
        self.status.value = f"review queue <b>{html.escape(name)}</b>: {len(traces)} row(s), {len(given)} labelled"
        return self.queue

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

    def _guard(self, action) -> None:
        try:
            action()
        except Exception as e:  # noqa: BLE001 - a message in the widget, never a traceback in the log console
            self.status.value = (
                f'<span class="wb-error" style="color:#b00020">{html.escape(str(e), quote=False)}</span>'
            )

    def visible(self) -> pd.DataFrame:
        r = self.rows
        ma, mb = f"{self.metric}_a", f"{self.metric}_b"
        if self.filter.value == "flipped" and ma in r:
            hi_a, hi_b = r[ma].fillna(0) >= 0.5, r[mb].fillna(0) >= 0.5
            return r[hi_a != hi_b]
        if self.filter.value == "failed":
            return r[r["error_a"].notna() | r["error_b"].notna() | (r.get(mb, 0).fillna(0) < 0.5)]
        return r

    def current(self) -> dict | None:
        v = self.visible()
        return None if v.empty else v.iloc[self.index].to_dict()

    def move(self, step: int, reset: bool = False) -> None:
        n = len(self.visible())
        self.index = 0 if reset or n == 0 else (self.index + step) % n
        row = self.current()
        if row is None:
            self.view.value = "<i>no rows</i>"
            return

        def cell(x):
            return html.escape(str(x))

        label = self.labels.get(str(row["id"]))
        labelled = f" <i>labelled:</i> <b>{cell(label['label'])}</b>" if label else ""
        self.view.value = (
            f"<b>{cell(row['id'])}</b> ({self.index + 1}/{n}) — {cell(row.get('input_a'))}<br>"
            f"<i>reference:</i> {cell(row.get('reference_a'))}"
            f"{labelled}"
            f"<table class='wb-review-row'><tr><th>A</th><th>B</th><th>diff A → B</th></tr>"
            f"<tr><td>{cell(row.get('answer_a'))}</td><td>{cell(row.get('answer_b'))}</td>"
            f"<td>{word_diff(row.get('answer_a'), row.get('answer_b'))}</td></tr>"
            f"<tr><td>{self.metric} {cell(row.get(self.metric + '_a'))}</td>"
            f"<td>{cell(row.get(self.metric + '_b'))}</td><td></td></tr></table>"
        )

    def label(self, verdict: str) -> None:
        """Label the current row, write all labels to :attr:`labels_path`, and step to the next row."""
        row = self.current()
        if row is None:
            return
        rid = str(row["id"])
        self.labels[rid] = {"label": verdict, "note": self.note.value}
        self.sent.discard(rid)
        self.note.value = ""
        self.write_labels(self.labels_path)
        self.status.value = f"{len(self.labels)} label(s) saved to {html.escape(str(self.labels_path))}"
        self.move(1)
        trace = self.traces().get(rid)
        if self.queue is not None and trace:  # after the local write: MLflow being down loses nothing
            from ..evaluate.queues import label_in_queue

            label_in_queue(self.queue.queue_id, trace, verdict, note=self.labels[rid]["note"] or None)
            self.sent.add(rid)
            self.status.value += f" and to review queue <b>{html.escape(self.queue.name)}</b>"

    def records(self) -> list[dict]:
        recs = []
        for rid, lab in self.labels.items():
            row = self.rows[self.rows["id"].astype(str) == rid].iloc[0]
            rec = {
                "id": rid,
                "question": row.get("input_a"),
                "reference": row.get("reference_a"),
                "answer_a": row.get("answer_a"),
                "answer_b": row.get("answer_b"),
                **lab,
            }
            if isinstance(row.get("trace_id_b"), str):  # the row's trace, where the label goes as HUMAN feedback
                rec["trace_id_b"] = row["trace_id_b"]
            recs.append(rec)
        return recs

    def write_labels(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("".join(json.dumps(r, default=str) + "\n" for r in self.records()), encoding="utf-8")
        tmp.replace(path)
        return path

    def save_labels(self, path: str | Path | None = None, log: bool = True) -> Path:
        """Write the labelled rows as a new dataset version (JSONL) and, with ``log``, log them to the current
        MLflow run as a table (``review_labels.json``) and a dataset input, and each label as a HUMAN Feedback
        (``review/label``, the note as its rationale) on candidate B's trace of the row, when it has one."""
        from .. import tracking
        from ..data import load_dataset, log_dataset

        recs = self.records()
        path = self.write_labels(path or self.labels_path)
        if log and recs:
            rid = tracking.current_run_id()
            tracking.log_table(pd.DataFrame(recs), "review_labels.json", run_id=rid)
            log_dataset(load_dataset(path), context="review")
            from ..evaluate.record import log_human_label

            for r in recs:
                if r["id"] in self.sent:  # already answered in the review queue
                    continue
                if isinstance(r.get("trace_id_b"), str) and r["trace_id_b"]:
                    try:
                        log_human_label(r["trace_id_b"], "review/label", r["label"], rationale=r.get("note") or None)
                    except Exception as e:  # noqa: BLE001 - a row resumed from another store has no trace here
                        warnings.warn(
                            f"label of row {r['id']} not attached to trace {r['trace_id_b']}: {e}", stacklevel=2
                        )
            self.status.value = (
                f"{len(recs)} label(s) logged to run {rid} (review_labels.json) and {html.escape(str(path))}"
            )
        return path
