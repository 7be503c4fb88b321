"""Tracked runs: a notebook executed by papermill is one MLflow run; sweeps are many, in separate processes."""

from .notebook import NotebookOptions, RunResult, run_notebook
from .sweep import SweepOptions, SweepResult, sweep

__all__ = ["NotebookOptions", "RunResult", "SweepOptions", "SweepResult", "run_notebook", "sweep"]
