"""Alert rules (YAML), their evaluation over collected traces, de-duplication, cooldown and history.

Rules file::

    experiment: app-contoso-rag        # where the traces are (the served app's experiment)
    cooldown: 10m                      # a firing rule notifies at most once per cooldown
    baseline: {window: 30m, offset: 10m, min_requests: 5}   # "vs baseline" rules: the 30 min ending 10 min
                                       # ago; fewer than min_requests there → no verdict
    sample: 20                         # traces scored for groundedness/harm per check (0: none)
    notify: [log, {jsonl: alerts.jsonl}, {webhook: "http://127.0.0.1:9000/alerts"}]
    rules:
      - name: error-rate
        metric: error_rate             # see workbench.monitor.collect.METRICS
        window: 5m
        op: ">"                        # > >= < <=
        threshold: 0.05
        for: 1m                        # the condition must hold this long before it fires
        severity: critical
      - name: latency-regression
        metric: latency_p95
        window: 5m
        op: ">"
        vs_baseline: 50%               # fire when 50 % above the baseline window's value
        severity: warning

A rule is *pending* while its condition holds for less than ``for``, *firing* after; it notifies when it
starts firing and again only after ``cooldown`` while it keeps firing; when the condition clears it is
*resolved*. State and history live in ``<project>/.workbench/monitor/`` (``<rules>.state.json``,
``<rules>.history.jsonl``) so ``workbench monitor --once`` from cron keeps the same de-duplication as a
long-running ``--every``. Relative JSONL notifier paths are relative to the project folder.
"""

from __future__ import annotations

import json
import math
import operator
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..errors import ConfigError
from .collect import METRICS, collect_traces, metric_value, now_utc, parse_duration, score_sample
from .notify import log, make_notifiers

OPS = {">": operator.gt, ">=": operator.ge, "<": operator.lt, "<=": operator.le}
SEVERITIES = ("info", "warning", "critical")
VOLUME_METRICS = ("requests", "request_rate", "tokens_per_hour", "cost_per_hour")  # defined on an empty window


@dataclass
class Rule:
    name: str
    metric: str
    window_s: float
    op: str
    threshold: float | None = None
    vs_baseline_pct: float | None = None
    for_s: float = 0.0
    severity: str = "warning"
    min_requests: int = 1

    def limit(self, baseline: float | None) -> float | None:
        if self.threshold is not None:
            return self.threshold
        if baseline is None or math.isnan(baseline) or self.vs_baseline_pct is None:  # the parser sets one of the two
            return None
        sign = 1 if self.op in (">", ">=") else -1
        return baseline * (1 + sign * self.vs_baseline_pct / 100)


@dataclass
class RuleSet:
    rules: list[Rule]
    experiment: str | None = None
    cooldown_s: float = 600.0
    baseline_window_s: float = 1800.0
    baseline_offset_s: float = 600.0
    baseline_min_requests: int = 5
    sample: int = 0
    notify: list = field(default_factory=lambda: ["log"])
    path: Path | None = None


def _pct(v, where: str) -> float:
    try:
        return float(str(v).strip().rstrip("%"))
    except ValueError:
        raise ConfigError(f"{where}: vs_baseline must be a percentage like 50%, got {v!r}") from None


def parse_rules(raw, source: str = "rules") -> RuleSet:
    """Validate a rules mapping; errors name the rule and key and say what was expected."""
    if not isinstance(raw, dict) or not isinstance(raw.get("rules"), list) or not raw["rules"]:
        raise ConfigError(f"{source}: expected a mapping with a non-empty 'rules:' list")
    rules = []
    for i, r in enumerate(raw["rules"]):
        where = f"{source}: rules[{i}]" + (f" ({r.get('name')})" if isinstance(r, dict) and r.get("name") else "")
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: expected a mapping with name, metric, window, op, threshold|vs_baseline")
        unknown = sorted(
            set(r) - {"name", "metric", "window", "op", "threshold", "vs_baseline", "for", "severity", "min_requests"}
        )
        if unknown:
            raise ConfigError(f"{where}: unknown key(s) {unknown}")
        for key in ("name", "metric", "window", "op"):
            if key not in r:
                raise ConfigError(f"{where}: '{key}' is required")
        if r["metric"] not in METRICS:
            raise ConfigError(f"{where}: metric must be one of {sorted(METRICS)}, got {r['metric']!r}")
        if r["op"] not in OPS:
            raise ConfigError(f"{where}: op must be one of {sorted(OPS)}, got {r['op']!r}")
        if ("threshold" in r) == ("vs_baseline" in r):
            raise ConfigError(f"{where}: give exactly one of 'threshold' (a number) or 'vs_baseline' (e.g. 50%)")
        if "threshold" in r and (isinstance(r["threshold"], bool) or not isinstance(r["threshold"], (int, float))):
            raise ConfigError(f"{where}: threshold must be a number, got {r['threshold']!r}")
        sev = r.get("severity", "warning")
        if sev not in SEVERITIES:
            raise ConfigError(f"{where}: severity must be one of {SEVERITIES}, got {sev!r}")
        rules.append(
            Rule(
                name=str(r["name"]),
                metric=r["metric"],
                window_s=parse_duration(r["window"], f"{where}: window"),
                op=r["op"],
                threshold=float(r["threshold"]) if "threshold" in r else None,
                vs_baseline_pct=_pct(r["vs_baseline"], where) if "vs_baseline" in r else None,
                for_s=parse_duration(r.get("for", 0), f"{where}: for"),
                severity=sev,
                min_requests=int(r.get("min_requests", 0 if r["metric"] in VOLUME_METRICS else 1)),
            )
        )
    names = [r.name for r in rules]
    if len(set(names)) != len(names):
        raise ConfigError(f"{source}: rule names must be unique, got {names}")
    base = raw.get("baseline") or {}
    rs = RuleSet(
        rules,
        experiment=raw.get("experiment"),
        cooldown_s=parse_duration(raw.get("cooldown", "10m"), f"{source}: cooldown"),
        baseline_window_s=parse_duration(base.get("window", "30m"), f"{source}: baseline.window"),
        baseline_offset_s=parse_duration(base.get("offset", "10m"), f"{source}: baseline.offset"),
        baseline_min_requests=int(base.get("min_requests", 5)),
        sample=int(raw.get("sample", 0)),
        notify=raw.get("notify") or ["log"],
    )
    make_notifiers(rs.notify, source)  # validate now, not at the first alert
    return rs


def load_rules(path: str | Path) -> RuleSet:
    from ..config import read_yaml

    path = Path(path)
    raw = read_yaml(path, "alert rules")
    rs = parse_rules(raw, str(path))
    rs.path = path.resolve()
    from ..config import settings

    for item in rs.notify:  # relative JSONL paths are relative to the project folder
        if isinstance(item, dict) and "jsonl" in item and not os.path.isabs(str(item["jsonl"])):
            item["jsonl"] = str(settings().project_dir / str(item["jsonl"]))
    return rs


class Monitor:
    """Evaluates a :class:`RuleSet` against the traces of its experiment; keeps state across checks."""

    def __init__(self, rules: RuleSet, experiment: str | None = None, state_dir: str | Path | None = None):
        from ..config import settings

        self.rules = rules
        experiment = experiment or rules.experiment
        if not experiment:
            raise ConfigError("monitor: no experiment: set 'experiment:' in the rules file or pass --experiment")
        self.experiment: str = experiment
        folder = Path(state_dir) if state_dir else settings().project_dir / ".workbench" / "monitor"
        stem = rules.path.stem if rules.path else "rules"
        self.state_path = folder / f"{stem}.state.json"
        self.history_path = folder / f"{stem}.history.jsonl"
        self.notifiers = make_notifiers(rules.notify)
        self.state = self._load_state()

    def _load_state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (OSError, ValueError):
            return {}

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        os.replace(tmp, self.state_path)  # atomic: a kill never leaves half a state file

    def _history(self, event: dict) -> None:
        self.history_path.parent.mkdir(parents=True, exist_ok=True)
        from ..secrets import scrub_value

        with self.history_path.open("a", encoding="utf-8") as f:  # a notifier's error text is scrubbed again
            f.write(json.dumps(scrub_value(event), default=str) + "\n")

    def history(self) -> pd.DataFrame:
        """Every fired, suppressed and resolved event so far."""
        if not self.history_path.exists():
            return pd.DataFrame()
        return pd.read_json(self.history_path, lines=True)

    def data(self, now: pd.Timestamp) -> pd.DataFrame:
        span = max(
            [r.window_s for r in self.rules.rules] + [self.rules.baseline_window_s + self.rules.baseline_offset_s]
        )
        df = collect_traces(self.experiment, since=(now - pd.Timedelta(seconds=span + 1)).timestamp())
        if self.rules.sample and any(r.metric in ("groundedness", "harm_rate") for r in self.rules.rules):
            df = score_sample(df, self.rules.sample)
        return df

    def evaluate(self, df: pd.DataFrame, now: pd.Timestamp | None = None) -> list[dict]:
        """Evaluate every rule at ``now`` on ``df``; returns the alerts sent (after de-duplication)."""
        now = now or now_utc()
        t = now.timestamp()
        b_end = now - pd.Timedelta(seconds=self.rules.baseline_offset_s)
        b_start = b_end - pd.Timedelta(seconds=self.rules.baseline_window_s)
        sent = []
        for rule in self.rules.rules:
            start = now - pd.Timedelta(seconds=rule.window_s)
            n = metric_value(df, "requests", start, now)
            value = metric_value(df, rule.metric, start, now) if n >= rule.min_requests else math.nan
            baseline = None
            if rule.vs_baseline_pct is not None:  # a baseline of too few requests is noise: no verdict
                enough = metric_value(df, "requests", b_start, b_end) >= self.rules.baseline_min_requests
                baseline = metric_value(df, rule.metric, b_start, b_end) if enough else math.nan
            limit = rule.limit(baseline)
            st = self.state.setdefault(rule.name, {"status": "ok", "pending_since": None, "last_notified": None})
            if limit is None or math.isnan(value) or math.isnan(limit):
                continue  # no data (or too little) is not a recovery: keep the rule's state as it is
            breached = OPS[rule.op](value, limit)
            if not breached:
                if st["status"] == "firing":
                    self._history({"event": "resolved", "rule": rule.name, "at": now.isoformat(), "value": value})
                st.update(status="ok", pending_since=None)
                continue
            if st["pending_since"] is None:
                st["pending_since"] = t
            if t - st["pending_since"] < rule.for_s:
                st["status"] = "pending"
                continue
            st["status"] = "firing"
            alert = {
                "rule": rule.name,
                "severity": rule.severity,
                "metric": rule.metric,
                "value": value,
                "limit": limit,
                "op": rule.op,
                "baseline": baseline,
                "window_s": rule.window_s,
                "requests": n,
                "experiment": self.experiment,
                "fired_at": now.isoformat(),
                "pending_since": pd.Timestamp(st["pending_since"], unit="s", tz="UTC").isoformat(),
                "message": f"{rule.name}: {rule.metric} = {value:.4g} {rule.op} {limit:.4g} over the last "
                f"{rule.window_s:g} s ({int(n)} requests) in {self.experiment}",
            }
            if st["last_notified"] is not None and t - st["last_notified"] < self.rules.cooldown_s:
                self._history({"event": "suppressed", **alert})
                continue
            alert["notify_errors"] = self._send(alert)
            if len(alert["notify_errors"]) < len(self.notifiers):  # delivered somewhere: the cooldown starts
                st["last_notified"] = t
            self._history({"event": "fired", **alert})
            sent.append(alert)
        self._save_state()
        return sent

    def _send(self, alert: dict) -> list[str]:
        errors = []
        for kind, send in self.notifiers:
            try:
                send(alert)
            except Exception as e:  # noqa: BLE001 - a failing notifier must not stop the others
                from ..secrets import scrub

                text = scrub(f"{type(e).__name__}: {e}")
                log.warning("notifier %s failed: %s", kind, text)
                errors.append(f"{kind}: {text}")
        return errors

    def firing(self, severity: str | None = None) -> list[str]:
        """Names of the rules firing now (of ``severity`` if given), notified or suppressed by the cooldown."""
        return [
            r.name
            for r in self.rules.rules
            if (severity is None or r.severity == severity) and self.state.get(r.name, {}).get("status") == "firing"
        ]

    def check(self, now: pd.Timestamp | None = None) -> list[dict]:
        """Collect, evaluate, notify: one monitoring pass."""
        now = now or now_utc()
        return self.evaluate(self.data(now), now)

    def run(self, every_s: float, duration_s: float | None = None, max_checks: int | None = None) -> list[dict]:
        """Check every ``every_s`` seconds until Ctrl-C, ``duration_s`` or ``max_checks``."""
        fired, n, t_end = [], 0, (time.monotonic() + duration_s) if duration_s else None
        try:
            while (max_checks is None or n < max_checks) and (t_end is None or time.monotonic() < t_end):
                t0 = time.monotonic()
                try:
                    fired += self.check()
                except Exception as e:  # noqa: BLE001 - a store hiccup must not end a long-running monitor
                    log.warning("monitor check failed (%s: %s); retrying in %s s", type(e).__name__, e, every_s)
                n += 1
                time.sleep(max(0.0, every_s - (time.monotonic() - t0)))
        except KeyboardInterrupt:
            pass
        return fired
