"""Operationalize and govern: collect traces, windowed metrics and drift, alert rules and notifiers,
governance cards and the secret scan.

    import workbench as wb
    df = wb.monitor.collect_traces("app-contoso-rag")
    wb.monitor.windowed(df, "1m")                      # request rate, error rate, p50/p95, TTFT, tokens, cost
    m = wb.monitor.Monitor(wb.monitor.load_rules("rules.yaml"))
    m.check()                                          # fired alerts (de-duplicated, with cooldown)
"""

from .card import audit_tags, build_card, govern_run, log_card, scan_run
from .collect import METRICS, collect_runs, collect_traces, drift, metric_value, parse_duration, score_sample, windowed
from .notify import NOTIFIERS, register_notifier
from .rules import Monitor, Rule, RuleSet, load_rules, parse_rules

__all__ = ["METRICS", "NOTIFIERS", "Monitor", "Rule", "RuleSet", "audit_tags", "build_card", "collect_runs",
           "collect_traces", "drift", "govern_run", "load_rules", "log_card", "metric_value", "parse_duration",
           "parse_rules", "register_notifier", "scan_run", "score_sample", "windowed"]
