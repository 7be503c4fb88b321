"""The review widget and MLflow's review queues (the experiment's Review page): the widget's rows are the items of a
queue asking ``review/label``; a label given in the widget is the queue's answer at once (a HUMAN Feedback the
Review page shows to its viewer, the item marked reviewed); a label given in the Review page is read back by the
widget. Read back through MLflow's own review-queue API."""

from __future__ import annotations

import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.genai import review_queues as rq

import workbench as wb
from evalkit import write_dataset


@pytest.fixture
def reviewed(tracking_store, tmp_path, project_dir):
    pytest.importorskip("ipywidgets")
    from workbench.candidates import CallableCandidate

    ds = write_dataset(tmp_path / "qa.jsonl", 3)
    c = MlflowClient(tracking_store)
    exp = c.create_experiment("t-queue")
    rid = c.create_run(exp, run_name="eval-q").info.run_id
    res = wb.evaluate(
        ds,
        [CallableCandidate(lambda r: r["reference"], name="good"), CallableCandidate(lambda r: "no idea", name="bad")],
        metrics=["quality/f1"],
        run_id=rid,
        progress=False,
    )
    return exp, res


def test_a_widget_label_is_the_review_queues_answer(reviewed, tmp_path):
    from workbench.evaluate.queues import LABEL_SCHEMA, queue_labels
    from workbench.widgets.review import Review

    exp, res = reviewed
    review = Review(res, candidate_a="good", candidate_b="bad", labels_path=tmp_path / "labels.jsonl")
    assert review.queue is not None and review.queue.experiment_id == exp
    items = {i.item_id: i for i in rq.list_review_queue_items(review.queue.queue_id)}
    bad_traces = set(res.rows[res.rows.candidate == "bad"]["trace_id"])
    assert set(items) == bad_traces and all(i.status == "pending" for i in items.values())
    row = review.current()
    review.note.value = "says nothing"
    review.label("bad")  # no Save: the queue has it at once
    items = {i.item_id: i for i in rq.list_review_queue_items(review.queue.queue_id)}
    assert items[row["trace_id_b"]].status == "complete" and items[row["trace_id_b"]].completed_by == "default"
    human = [a for a in mlflow.get_trace(row["trace_id_b"]).info.assessments if a.source.source_type == "HUMAN"]
    assert [(a.name, a.value, a.rationale, a.source.source_id) for a in human] == [
        (LABEL_SCHEMA, "bad", "says nothing", "default")
    ]
    assert queue_labels(review.queue.queue_id)[row["trace_id_b"]].label == "bad"
    review.save_labels(log=True)  # no second Feedback for a label already in the queue
    human = [a for a in mlflow.get_trace(row["trace_id_b"]).info.assessments if a.source.source_type == "HUMAN"]
    assert len(human) == 1


def test_a_label_given_in_the_review_page_reaches_the_widget(reviewed, tmp_path):
    from mlflow.entities import AssessmentSource, AssessmentSourceType

    from workbench.evaluate.queues import LABEL_SCHEMA
    from workbench.widgets.review import Review

    exp, res = reviewed
    first = Review(res, candidate_a="good", candidate_b="bad", labels_path=tmp_path / "a.jsonl")
    row = first.rows.iloc[1]
    # what the Review page posts when its viewer answers (a HUMAN Feedback from the viewer) and marks it done
    mlflow.log_feedback(
        trace_id=row["trace_id_b"],
        name=LABEL_SCHEMA,
        value="good",
        rationale="fine",
        source=AssessmentSource(source_type=AssessmentSourceType.HUMAN, source_id="default"),
    )
    rq.set_review_queue_item_status(
        first.queue.queue_id, item_id=row["trace_id_b"], status="complete", completed_by="default"
    )
    again = Review(res, candidate_a="good", candidate_b="bad", labels_path=tmp_path / "b.jsonl")
    assert again.queue.queue_id == first.queue.queue_id  # the same queue, found by name
    assert again.labels == {str(row["id"]): {"label": "good", "note": "fine"}}
