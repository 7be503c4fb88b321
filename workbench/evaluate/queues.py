"""MLflow review queues (MLflow 3.14+, the experiment's **Review** page) for an evaluation's row traces.

A queue is experiment-scoped: a name, the traces to review (items), the questions (label schemas) and the
reviewers. The workbench's question is the label schema ``review/label`` (good | bad, with a comment): its answers
are HUMAN Feedback assessments named ``review/label`` on the row's trace, the same assessment the review widget
writes (:func:`workbench.evaluate.record.log_human_label`) and ``workbench monitor``'s harvest reads. So a label given
in the notebook shows in the Review page, and one given in the Review page is read back by :func:`queue_labels`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: the question of the workbench's review queues, and the assessment name of its answers
LABEL_SCHEMA = "review/label"
LABEL_OPTIONS = ["good", "bad"]
INSTRUCTION = "Is this answer good or bad? Add a note saying why."
#: the viewer of an MLflow server without authentication (its Review page shows this user's answers)
DEFAULT_VIEWER = "default"


@dataclass
class QueueLabel:
    """A reviewer's answer on one queue item (a row trace): the label, the note, who gave it."""

    trace_id: str
    label: str
    note: str | None
    user: str | None


def reviewer() -> str:
    """Who labels, as MLflow's Review page knows the viewer: the MLflow user (``MLFLOW_TRACKING_USERNAME``, a
    server with basic auth), else ``default``, the one viewer of a server without auth. The page shows a reviewer's
    own HUMAN answers, so a label the widget gives under another name would not appear in the viewer's form."""
    return os.environ.get("MLFLOW_TRACKING_USERNAME") or DEFAULT_VIEWER


def label_schema(experiment_id: str) -> str:
    """The id of the experiment's ``review/label`` schema (good | bad, with a comment), created on first use."""
    from mlflow.exceptions import MlflowException
    from mlflow.genai.label_schemas import InputCategorical, create_label_schema, get_label_schema

    from ..tracking import configure

    configure()
    try:
        schema = get_label_schema(LABEL_SCHEMA, experiment_id=experiment_id)
    except MlflowException:
        schema = create_label_schema(
            LABEL_SCHEMA,
            type="feedback",
            input=InputCategorical(options=LABEL_OPTIONS),
            instruction=INSTRUCTION,
            enable_comment=True,
            experiment_id=experiment_id,
        )
    return str(schema.schema_id)


def review_queue(experiment_id: str, name: str, trace_ids: list[str], users: list[str] | None = None):
    """The custom review queue ``name`` of the experiment (created on first use, asking ``review/label``,
    assigned to ``users``, default: this reviewer) with ``trace_ids`` attached (idempotent: items already there
    keep their status). Returns MLflow's ``ReviewQueue``."""
    from mlflow.exceptions import MlflowException
    from mlflow.genai import review_queues as rq

    from ..tracking import configure

    configure()
    schema = label_schema(experiment_id)
    try:
        queue = rq.get_review_queue(name=name, experiment_id=experiment_id)
    except MlflowException:
        queue = rq.create_review_queue(
            name,
            queue_type="custom",
            users=users or [reviewer()],
            schema_ids=[schema],
            experiment_id=experiment_id,
        )
    ids = [t for t in dict.fromkeys(trace_ids) if t]
    if ids:
        rq.add_items_to_review_queue(queue.queue_id, item_ids=ids)
    return queue


def mark_reviewed(queue_id: str, trace_id: str, user: str | None = None) -> None:
    """Mark the queue item ``trace_id`` complete (by ``user``, default: this reviewer)."""
    from mlflow.genai import review_queues as rq

    rq.set_review_queue_item_status(queue_id, item_id=trace_id, status="complete", completed_by=user or reviewer())


def label_in_queue(queue_id: str, trace_id: str, label: str, note: str | None = None, user: str | None = None):
    """Answer the queue's question on one item: a HUMAN ``review/label`` Feedback on the trace (the note as its
    rationale) and the item marked complete. Returns the Feedback."""
    from .record import log_human_label

    fb = log_human_label(trace_id, LABEL_SCHEMA, label, user=user or reviewer(), rationale=note or None)
    mark_reviewed(queue_id, trace_id, user)
    return fb


def queue_labels(queue_id: str, max_items: int = 1000) -> dict[str, QueueLabel]:
    """The latest ``review/label`` answer on each item of the queue, by trace id (items without one are left out),
    wherever it was given: the review widget or MLflow's Review page."""
    import mlflow
    from mlflow.genai import review_queues as rq

    out: dict[str, QueueLabel] = {}
    items = rq.list_review_queue_items(queue_id, max_results=max_items)
    for item in items:
        trace = mlflow.get_trace(item.item_id)
        if trace is None:
            continue
        answers = [
            a
            for a in trace.info.assessments
            if a.name == LABEL_SCHEMA and a.feedback is not None and a.valid is not False
        ]
        if answers:
            a = max(answers, key=lambda x: x.last_update_time_ms or x.create_time_ms or 0)
            user = a.source.source_id if a.source else None
            out[item.item_id] = QueueLabel(item.item_id, str(a.feedback.value), a.rationale, user)
    return out
