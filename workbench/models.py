"""``workbench models``: the configured endpoints, their models, key presence (never the key) and health."""

from __future__ import annotations

import pandas as pd

from .config import Endpoint, settings


def endpoint_health(ep: Endpoint, timeout: float = 3.0) -> str:
    """ok | not running (starts on demand) | no key | unreachable: ... — never sends a request without a key."""
    if ep.kind == "local":
        import json

        from .llm.local import ServerHandle, ServerOptions, _state_path

        try:
            h = ServerHandle(**json.loads(_state_path(ServerOptions()).read_text()))
            return f"ok (pid {h.pid}, port {h.port})" if h.healthy() else "not running (starts on demand)"
        except (OSError, ValueError, TypeError):
            return "not running (starts on demand)"
    if not ep.has_key():
        return "no key"
    if not ep.base_url:
        return "no base_url"
    import httpx

    try:
        r = httpx.get(ep.base_url.rstrip("/") + "/models", timeout=timeout,
                      headers={"Authorization": f"Bearer {ep.api_key()}", "api-key": ep.api_key()})
        return "ok" if r.status_code < 400 else f"HTTP {r.status_code}"
    except httpx.HTTPError as e:
        return f"unreachable: {type(e).__name__}"


def endpoint_table(check_health: bool = True) -> pd.DataFrame:
    s = settings()
    rows = []
    for ep in s.endpoints.values():
        rows.append({
            "endpoint": ep.name, "kind": ep.kind,
            "base_url": ep.base_url or ("(embedded)" if ep.kind == "local" else "-"),
            "models": ", ".join(ep.models) or "-", "default": ep.default_model or "-",
            "key": "n/a" if ep.api_key_env is None else (f"{ep.api_key_env} set" if ep.has_key()
                                                         else f"{ep.api_key_env} missing"),
            "health": endpoint_health(ep) if check_health else "-",
        })
    for alias, target in s.aliases.items():
        rows.append({"endpoint": f"alias {alias}", "kind": "alias", "base_url": "-", "models": target,
                     "default": "-", "key": "-", "health": "-"})
    return pd.DataFrame(rows)
