"""Alert notifiers, in a registry: ``log``, ``jsonl`` (append one JSON line per alert), ``webhook`` (POST the
alert as a JSON body). ``register_notifier(kind, factory)`` adds one; ``factory(target) -> send(alert)``.

A notifier that fails (webhook down) logs a warning and records the failure in the alert history; it never
stops the monitor.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Callable

from ..errors import ConfigError

log = logging.getLogger("workbench.monitor")
Notifier = Callable[[dict], None]
NOTIFIERS: dict[str, Callable[[Any], Notifier]] = {}


def register_notifier(kind: str, factory: Callable[[Any], Notifier]) -> None:
    NOTIFIERS[kind] = factory


def _log(target) -> Notifier:
    def send(alert: dict) -> None:
        level = logging.ERROR if alert.get("severity") == "critical" else logging.WARNING
        log.log(level, "ALERT %s", alert["message"])
        print(f"ALERT [{alert.get('severity')}] {alert['message']}", flush=True)

    return send


def _jsonl(target) -> Notifier:
    path = Path(str(target)).expanduser()

    def send(alert: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(alert, default=str) + "\n")

    return send


def _webhook(target) -> Notifier:
    import httpx

    url = target["url"] if isinstance(target, dict) else str(target)
    timeout = float(target.get("timeout_s", 5)) if isinstance(target, dict) else 5.0

    def send(alert: dict) -> None:
        r = httpx.post(url, content=json.dumps(alert, default=str), timeout=timeout,
                       headers={"content-type": "application/json"})
        r.raise_for_status()

    return send


register_notifier("log", _log)
register_notifier("jsonl", _jsonl)
register_notifier("webhook", _webhook)


def make_notifiers(spec: list, source: str = "rules") -> list[tuple[str, Notifier]]:
    """``["log", {"jsonl": "alerts.jsonl"}, {"webhook": "http://127.0.0.1:9000/hook"}]`` → notifiers."""
    out = []
    for i, item in enumerate(spec or ["log"]):
        kind, target = (item, None) if isinstance(item, str) else next(iter(item.items())) if (
            isinstance(item, dict) and len(item) == 1) else (None, None)
        if kind not in NOTIFIERS:
            raise ConfigError(f"{source}: notify[{i}]: expected one of {sorted(NOTIFIERS)} "
                              f"(e.g. log, {{jsonl: alerts.jsonl}}, {{webhook: URL}}), got {item!r}")
        out.append((kind, NOTIFIERS[kind](target)))
    return out
