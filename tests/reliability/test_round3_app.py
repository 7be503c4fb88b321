"""Round-3 probes of the served app (issue 33): idle and slow-header connections must not starve it, an optional
bearer key from the environment, a warning when it is served beyond loopback without one. The upstream is the
small fake OpenAI-compatible server on 127.0.0.1 (no model needed)."""

from __future__ import annotations

import socket
import time

import httpx
import pytest

from fakes.openai_server import GOOD_CHAT, post_chat
from workbench import serve

GOOD = GOOD_CHAT
APP_KEY = "app-" + "K3y" * 10


def _post(app, body=None, timeout=10, **kw):
    return post_chat(app, body, timeout, **kw)


def test_idle_connections_do_not_starve_the_app(upstream, tracking_store):
    """Regression: 70 idle TCP connections (never a byte) made every request, /health included, answer 503 until
    they closed (uvicorn's limit_concurrency counts connections; there was no header timeout)."""
    with serve.start({"name": "idle", "model": "fake:m"}) as h:  # the defaults (max_concurrent 64)
        port = int(h.url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(70)]
        try:
            time.sleep(0.3)
            assert httpx.get(f"{h.url}/health", timeout=5).status_code == 200
            assert _post(h).status_code == 200
        finally:
            for s in idle:
                s.close()


def test_idle_and_slow_header_connections_are_closed(upstream, tracking_store):
    with serve.start({"name": "slow", "model": "fake:m", "header_timeout_s": 1.5}) as h:
        port = int(h.url.rsplit(":", 1)[1])
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
        slow = socket.create_connection(("127.0.0.1", port), timeout=5)
        slow.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # a head that never ends
        kept = httpx.Client()
        try:
            assert kept.get(f"{h.url}/health", timeout=5).status_code == 200  # then idle on keep-alive
            time.sleep(3.0)  # past header_timeout_s: the server has closed the idle and slow ones
            closed = 0
            for s in [*idle, slow]:
                s.settimeout(2)
                try:
                    closed += s.recv(1) == b""
                except OSError:
                    closed += 1
            assert closed == 21, f"{closed} of 21 idle/slow connections closed"
            assert kept.get(f"{h.url}/health", timeout=5).status_code == 200  # a client reconnects as usual
        finally:
            kept.close()
            for s in [*idle, slow]:
                s.close()


def test_the_limit_counts_requests_in_progress_not_connections(upstream, tracking_store):
    upstream.chat.delay_s = 1.0
    with serve.start({"name": "busy", "model": "fake:m", "max_concurrent": 1}) as h:
        import threading

        first = threading.Thread(target=_post, args=(h,))
        first.start()
        time.sleep(0.3)
        try:
            r = _post(h)
            assert r.status_code == 503 and r.json()["error"]["code"] == "overloaded", r.text
            assert httpx.get(f"{h.url}/health", timeout=5).status_code == 200  # never refused for load
        finally:
            first.join(10)


def test_an_optional_bearer_key_from_the_environment(upstream, tracking_store, monkeypatch):
    """Regression: the app had no authentication at all (the Host allow-list is not access control)."""
    monkeypatch.setenv("WORKBENCH_APP_KEY", APP_KEY)
    with serve.start({"name": "keyed", "model": "fake:m"}) as h:
        assert _post(h).status_code == 401
        r = _post(h, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401 and r.headers.get("www-authenticate") == "Bearer" and APP_KEY not in r.text
        assert httpx.get(f"{h.base_url}/models", timeout=5).status_code == 401
        assert _post(h, headers={"Authorization": f"Bearer {APP_KEY}"}).status_code == 200
        assert httpx.get(f"{h.url}/health", timeout=5).status_code == 200  # for load balancers, no key
        import openai

        out = openai.OpenAI(base_url=h.base_url, api_key=APP_KEY).chat.completions.create(
            model="keyed", messages=GOOD["messages"], max_tokens=4
        )
        assert out.choices[0].message.content == "ok"


def test_binding_beyond_loopback_without_a_key_warns(monkeypatch, capsys):
    from workbench.serve.http import open_warning

    monkeypatch.delenv("WORKBENCH_APP_KEY", raising=False)
    assert open_warning("127.0.0.1") is None and open_warning("::1") is None and open_warning("localhost") is None
    for host in ("0.0.0.0", "::", "192.168.1.20"):
        assert "WORKBENCH_APP_KEY" in (open_warning(host) or ""), host
    monkeypatch.setenv("WORKBENCH_APP_KEY", APP_KEY)
    assert open_warning("0.0.0.0") is None


def test_app_serve_help_names_the_key_variable(capsys):
    from workbench.cli import main

    with pytest.raises(SystemExit):
        main(["app", "serve", "--help"])
    assert "WORKBENCH_APP_KEY" in capsys.readouterr().out
