"""Tracked runs: a notebook executed by papermill is one MLflow run; sweeps are many, in separate processes."""

from .notebook import RunResult, run_notebook
from .sweep import SweepResult, sweep

__all__ = ["RunResult", "SweepResult", "run_notebook", "sweep"]
