"""``workbench models``: the configured endpoints, their models, key presence (never the key) and health."""

from __future__ import annotations

import pandas as pd

from .config import Endpoint, settings
from .llm.endpoints import kind_of


def endpoint_health(ep: Endpoint, timeout: float = 3.0) -> str:
    """ok | not running (starts on demand) | no key | unreachable: ... — never sends a request without a key."""
    return kind_of(ep).health(ep, timeout)


def endpoint_table(check_health: bool = True) -> pd.DataFrame:
    s = settings()
    rows = []
    for ep in s.endpoints.values():
        kind = kind_of(ep)
        rows.append(
            {
                "endpoint": ep.name,
                "kind": ep.kind,
                "base_url": kind.describe(ep),
                "models": ", ".join(kind.models(ep)) or "-",
                "default": ep.default_model or "-",
                "key": "n/a"
                if ep.api_key_env is None
                else (f"{ep.api_key_env} set" if ep.has_key() else f"{ep.api_key_env} missing"),
                "health": endpoint_health(ep) if check_health else "-",
            }
        )
    for alias, target in s.aliases.items():
        rows.append(
            {
                "endpoint": f"alias {alias}",
                "kind": "alias",
                "base_url": "-",
                "models": target,
                "default": "-",
                "key": "-",
                "health": "-",
            }
        )
    return pd.DataFrame(rows)
