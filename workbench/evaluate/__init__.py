"""The evaluation engine: metrics (five families), the runner, judges, paired comparison and gates."""

import sys
import types

from .calibrate import CalibrationResult, calibrate
from .compare import Comparison, check_gate, compare
from .engine import EvalPlan
from .metrics import METRICS, MetricDef, definitions, get_metrics, metric
from .result import EvalResult
from .runner import estimate, evaluate
from .scorers import as_mlflow_scorers
from .verdict import gate_line, log_gates, read_gates, verdict


class _CallableModule(types.ModuleType):
    """``wb.evaluate`` is this package *and* the runner: ``wb.evaluate(...)`` calls :func:`evaluate`, while
    ``wb.evaluate.as_mlflow_scorers(...)`` and friends stay module attributes. (Importing a submodule sets
    ``workbench.evaluate`` to the package, so the package itself must be callable.)"""

    def __call__(self, *args, **kwargs):
        return evaluate(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule

__all__ = [
    "CalibrationResult",
    "Comparison",
    "EvalPlan",
    "EvalResult",
    "METRICS",
    "MetricDef",
    "as_mlflow_scorers",
    "calibrate",
    "check_gate",
    "compare",
    "definitions",
    "estimate",
    "evaluate",
    "gate_line",
    "get_metrics",
    "log_gates",
    "metric",
    "read_gates",
    "verdict",
]
