"""Alert notifiers, in a registry: ``log``, ``jsonl`` (append one JSON line per alert), ``webhook`` (POST the
alert as a JSON body). ``register_notifier(kind, factory)`` adds one; ``factory(target) -> send(alert)``.

A notifier that fails (webhook down) logs a warning and records the failure in the alert history; it never
stops the monitor. Both show the failure with the webhook's secrets masked: a URL's ``user:password@``, the
values of credential-named query parameters (``?token=``), header values and every ``${NAME}`` the spec
expanded. Write secrets as ``${NAME}`` in the rules YAML: ``{webhook: {url: "${ALERT_WEBHOOK_URL}",
headers: {Authorization: "Bearer ${ALERT_TOKEN}"}}}``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..secrets import mask_url

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


class NotifyError(Exception):
    """A notifier failed; the text is scrubbed of the notifier's secrets (URL userinfo, tokens, headers)."""


def _webhook(target) -> Notifier:
    """``{webhook: URL}`` or ``{webhook: {url: URL, headers: {...}, timeout_s: 5}}``; ``${NAME}`` anywhere in
    them is read from the environment (so a token need not be written in the YAML). A failure is reported with
    the URL's userinfo, credential-named query values, header values and expanded variables masked."""
    import httpx

    from ..secrets import expand_env, scrub, secret_values

    spec = target if isinstance(target, dict) else {"url": str(target)}
    spec, used = expand_env(spec, "notify.webhook")
    url = str(spec["url"])
    headers = {str(k): str(v) for k, v in (spec.get("headers") or {}).items()}
    timeout = float(spec.get("timeout_s", 5))
    hide = sorted({*used, *headers.values()} - {""}, key=len, reverse=True)

    def send(alert: dict) -> None:
        try:
            r = httpx.post(
                url,
                content=json.dumps(alert, default=str),
                timeout=timeout,
                headers={"content-type": "application/json", **headers},
            )
            r.raise_for_status()
        except Exception as e:  # noqa: BLE001 - re-raised with the secrets masked (stderr and history show it)
            raise NotifyError(scrub(f"{type(e).__name__}: {e}", [*hide, *secret_values()])) from None

    return send


register_notifier("log", _log)
register_notifier("jsonl", _jsonl)
register_notifier("webhook", _webhook)


def make_notifiers(spec: list, source: str = "rules") -> list[tuple[str, Notifier]]:
    """``["log", {"jsonl": "alerts.jsonl"}, {"webhook": "http://127.0.0.1:9000/hook"}]`` → notifiers."""
    out = []
    for i, item in enumerate(spec or ["log"]):
        kind, target = (
            (item, None)
            if isinstance(item, str)
            else next(iter(item.items()))
            if (isinstance(item, dict) and len(item) == 1)
            else (None, None)
        )
        if kind not in NOTIFIERS:
            raise ConfigError(
                f"{source}: notify[{i}]: expected one of {sorted(NOTIFIERS)} "
                f"(e.g. log, {{jsonl: alerts.jsonl}}, {{webhook: URL}}), got {mask_url(repr(item))}"
            )
        try:
            out.append((kind, NOTIFIERS[kind](target)))
        except ConfigError as e:
            raise ConfigError(f"{source}: notify[{i}]: {e}") from None
    return out
