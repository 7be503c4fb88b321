"""Review two evaluation runs side by side, row by row: filter to flipped or failed rows, label each row
(good / bad / note), and save the labels as a new dataset version (JSONL + MLflow dataset input)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..evaluate.compare import side


class Review:
    def __init__(self, run_a, run_b, metric: str = "quality/f1", candidate_a: str | None = None,
                 candidate_b: str | None = None):
        import ipywidgets as w

        a = side(run_a, candidate_a).rows.reset_index(drop=True)
        b = side(run_b, candidate_b).rows.reset_index(drop=True)
        keep = ["id", "repeat", "input", "reference", "answer", "error", metric]
        self.metric = metric
        self.rows = a[[c for c in keep if c in a]].merge(b[[c for c in keep if c in b]], on=["id", "repeat"],
                                                         suffixes=("_a", "_b"))
        self.labels: dict[str, dict] = {}
        self.filter = w.ToggleButtons(options=["all", "flipped", "failed"], description="show")
        self.index = 0
        self.view = w.HTML()
        self.note = w.Text(description="note")
        self.good = w.Button(description="good", button_style="success")
        self.bad = w.Button(description="bad", button_style="danger")
        self.prev = w.Button(description="◀")
        self.next = w.Button(description="▶")
        self.good.on_click(lambda _: self.label("good"))
        self.bad.on_click(lambda _: self.label("bad"))
        self.prev.on_click(lambda _: self.move(-1))
        self.next.on_click(lambda _: self.move(1))
        self.filter.observe(lambda _: self.move(0, reset=True), names="value")
        self.widget = w.VBox([self.filter, self.view, self.note, w.HBox([self.prev, self.good, self.bad, self.next])])
        self.move(0, reset=True)

    def _ipython_display_(self):
        from IPython.display import display

        display(self.widget)

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
        import html

        def cell(x):
            return html.escape(str(x))

        self.view.value = (f"<b>{cell(row['id'])}</b> ({self.index + 1}/{n}) — {cell(row.get('input_a'))}<br>"
                           f"<i>reference:</i> {cell(row.get('reference_a'))}<table><tr><th>A</th><th>B</th></tr>"
                           f"<tr><td>{cell(row.get('answer_a'))}</td><td>{cell(row.get('answer_b'))}</td></tr>"
                           f"<tr><td>{self.metric} {cell(row.get(self.metric + '_a'))}</td>"
                           f"<td>{cell(row.get(self.metric + '_b'))}</td></tr></table>")

    def label(self, verdict: str) -> None:
        row = self.current()
        if row is not None:
            self.labels[str(row["id"])] = {"label": verdict, "note": self.note.value}
            self.note.value = ""
            self.move(1)

    def save_labels(self, path: str | Path, log: bool = True) -> Path:
        """Write the labelled rows as a new dataset version (JSONL) and log it as an MLflow dataset input."""
        from ..data import load_dataset, log_dataset
        from ..finetune.prepare import write_jsonl

        recs = []
        for rid, lab in self.labels.items():
            row = self.rows[self.rows["id"].astype(str) == rid].iloc[0]
            recs.append({"id": rid, "question": row.get("input_a"), "reference": row.get("reference_a"),
                         "answer_a": row.get("answer_a"), "answer_b": row.get("answer_b"), **lab})
        path = write_jsonl(recs, path)
        if log and recs:
            log_dataset(load_dataset(path), context="review")
        return path
