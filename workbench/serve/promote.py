"""Promote a candidate configuration to a served alias, MLflow's native way: the LoggedModel becomes a version of
a registered model (``mlflow.register_model("models:/<model id>", NAME)``) and the alias (``production``) is
set on that version (``MlflowClient.set_registered_model_alias``). The alias is what ``models:/NAME@production``
means everywhere in MLflow, the UI's Models page shows it on the version, and moving it is one atomic update
with the registry's own history; ``workbench app serve --alias production --name NAME`` serves whatever the
alias points at. (A tag on the LoggedModel could not be unique per name: two models could both claim it.)

    workbench promote MODEL_ID --name contoso-rag [--alias production] [--evidence RUN_ID]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from .. import tags as T
from ..errors import ConfigError
from .config import DEFAULT_ALIAS, MODEL_ID_TAG, aliased_model_id, config_from_model

if TYPE_CHECKING:
    from ..evaluate.compare import Comparison


@dataclass
class Promotion:
    """What :func:`promote` did."""

    registered_model: str
    alias: str
    version: str
    model_id: str
    previous_model_id: str | None
    run_id: str

    def summary(self) -> pd.DataFrame:
        """One row: the alias, the version and model it now names, and the model it named before."""
        return pd.DataFrame(
            [
                {
                    "alias": f"{self.registered_model}@{self.alias}",
                    "version": self.version,
                    "model_id": self.model_id,
                    "previous_model_id": self.previous_model_id,
                    "run_id": self.run_id,
                }
            ]
        )


def promote(
    model_id,
    registered_model: str,
    alias: str = DEFAULT_ALIAS,
    evidence_run: str | None = None,
    experiment: str | None = None,
) -> Promotion:
    """Point ``registered_model@alias`` at LoggedModel ``model_id`` (registering it as a new version), in a
    tracked ``promote`` run (a child of the current run, if any) tagged with the lineage: the model promoted, the
    model the alias named before, and ``evidence_run`` (the comparison that justified it). The configuration is
    rebuilt first, so a model that cannot be served (a missing index) is refused before the alias moves.
    ``model_id`` may be a Candidate: its LoggedModel (made now if new, from the current run) is promoted."""
    import mlflow

    from .. import (
        rag,  # noqa: F401 - registers the rag candidate kind
        tracking,
    )
    from ..candidates import from_config
    from ..lifecycle import nest_under_ambient, tracked_run

    experiment, parent = nest_under_ambient(experiment)
    if not isinstance(model_id, str):  # a Candidate: the LoggedModel of its configuration
        from ..evaluate.record import logged_model

        model_id = logged_model(model_id, tracking.experiment_id(experiment), source_run_id=parent)
    cfg = config_from_model(model_id)  # inputs first: no run for an unknown model
    from_config(cfg.candidate_config(), cfg.name)
    previous = aliased_model_id(registered_model, alias, missing_ok=True)
    with tracked_run(
        "promote",
        f"promote-{registered_model}@{alias}",
        experiment,
        parent_run_id=parent,
        params={"promote.model_id": model_id, "promote.registered_model": registered_model, "promote.alias": alias},
    ) as run:
        version = mlflow.register_model(
            f"models:/{model_id}",
            registered_model,
            tags={MODEL_ID_TAG: model_id, T.LINEAGE_EVIDENCE: evidence_run or ""},
        )
        c = tracking.client()
        c.set_registered_model_alias(registered_model, alias, version.version)
        c.set_logged_model_tags(model_id, {T.PROMOTED: f"{registered_model}@{alias} v{version.version}"})
        tracking.set_tags(
            {
                T.LINEAGE_MODEL_ID: model_id,
                T.LINEAGE_SERVED_MODEL_ID: previous or "",
                T.LINEAGE_EVIDENCE: evidence_run or "",
            },
            run.run_id,
        )
    return Promotion(registered_model, alias, str(version.version), model_id, previous, run.run_id)


@dataclass
class Challenge:
    """A candidate evaluated against the served model on the same rows (:func:`challenge`)."""

    run_id: str
    served_model_id: str
    model_id: str
    comparison: Comparison  # B = the challenger, A = the served model

    @property
    def passed(self) -> bool:
        """Every gate passed (no gates: True)."""
        return self.comparison.passed

    def summary(self) -> pd.DataFrame:
        """The paired comparison, one line per metric (challenger minus served)."""
        return self.comparison.summary()


def challenge(
    dataset,
    candidate,
    registered_model: str,
    alias: str = DEFAULT_ALIAS,
    metrics: list[str] | None = None,
    gates: list[str] | None = None,
    experiment: str | None = None,
    **eval_kwargs,
) -> Challenge:
    """Evaluate ``candidate`` and the model ``registered_model@alias`` serves (rebuilt from its LoggedModel, so
    the same LoggedModel is reused) on ``dataset`` (e.g. ``mlflow:served-failures``) in one tracked
    ``challenge`` run, a child of the current run if any, then compare them row by row with ``gates``; the run
    carries the lineage (dataset, both models) and the verdict. ``eval_kwargs`` go to ``evaluate``."""
    from .. import tracking
    from ..candidates import from_config
    from ..data import load_dataset
    from ..evaluate.compare import compare
    from ..evaluate.record import logged_model
    from ..evaluate.runner import evaluate
    from ..lifecycle import nest_under_ambient, tracked_run

    served_id = aliased_model_id(registered_model, alias)
    cfg = config_from_model(served_id)
    served = from_config(cfg.candidate_config(), cfg.name)
    if served.name == candidate.name:
        raise ConfigError(f"the challenger is named {candidate.name!r} like the served model: give it another name")
    ds = load_dataset(dataset)
    experiment, parent = nest_under_ambient(experiment)
    with tracked_run(
        "challenge",
        f"challenge-{registered_model}@{alias}",
        experiment,
        parent_run_id=parent,
        tags={
            T.LINEAGE_DATASET: dataset if isinstance(dataset, str) else ds.name,
            T.LINEAGE_SERVED_MODEL_ID: served_id,
        },
    ) as run:
        res = evaluate(ds, [served, candidate], metrics=metrics, run_id=run.run_id, **eval_kwargs)
        cmp = compare(res, res, candidate_a=served.name, candidate_b=candidate.name, gates=gates or [])
        model_id = logged_model(candidate, run.experiment_id)
        tracking.set_tags({T.LINEAGE_MODEL_ID: model_id, T.CHALLENGE_PASSED: str(cmp.passed).lower()}, run.run_id)
        tracking.log_table(cmp.table, "challenge_comparison.json", run_id=run.run_id)
    return Challenge(run.run_id, served_id, model_id, cmp)
