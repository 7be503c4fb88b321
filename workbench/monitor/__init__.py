"""Operationalize: collect traces, windowed metrics and drift, alert rules and notifiers
(governance cards and the secret scan live in :mod:`workbench.governance`).

    import workbench as wb
    df = wb.monitor.collect_traces("app-contoso-rag")
    wb.monitor.windowed(df, "1m")                      # request rate, error rate, p50/p95, TTFT, tokens, cost
    m = wb.monitor.Monitor(wb.monitor.load_rules("rules.yaml"))
    m.check()                                          # fired alerts (de-duplicated, with cooldown)
    wb.monitor.harvest("app-contoso-rag", "served-failures", monitor=m)   # flagged traces → mlflow:served-failures
"""

from .collect import METRICS, collect_traces, drift, metric_value, parse_duration, score_sample, windowed
from .dashboard import dashboard
from .harvest import Harvest, flagged_traces, harvest
from .notify import NOTIFIERS, register_notifier
from .rules import Monitor, Rule, RuleSet, load_rules, parse_rules

__all__ = [
    "METRICS",
    "NOTIFIERS",
    "Harvest",
    "Monitor",
    "Rule",
    "RuleSet",
    "collect_traces",
    "dashboard",
    "drift",
    "flagged_traces",
    "harvest",
    "load_rules",
    "metric_value",
    "parse_duration",
    "parse_rules",
    "register_notifier",
    "score_sample",
    "windowed",
]
