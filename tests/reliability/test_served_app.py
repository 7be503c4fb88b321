"""Scenario 8 — the served app under bad clients: malformed requests, oversized bodies and slowloris-style slow
clients get 4xx or are timed out, and the server keeps answering well-formed requests throughout.
Bounded: 30 slow sockets, 2 s body timeout, every socket closed at the end; 127.0.0.1 only."""

from __future__ import annotations

import json
import socket
import threading
import time

import httpx
import pytest

from workbench import serve

pytestmark = pytest.mark.slow
GOOD = {"messages": [{"role": "user", "content": "Say ok."}], "max_tokens": 4}


@pytest.fixture
def app(local_server, tracking_store):
    h = serve.start({"name": "rel", "params": {"max_tokens": 4}, "body_timeout_s": 2.0, "max_body_bytes": 8192})
    yield h
    h.stop()


def _raw(port: int, data: bytes, read_timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=read_timeout) as s:
        s.sendall(data)
        out = b""
        try:
            while chunk := s.recv(65536):
                out += chunk
        except (TimeoutError, ConnectionResetError):
            pass
        return out


def _good(app) -> int:
    return httpx.post(f"{app.base_url}/chat/completions", json=GOOD, timeout=60).status_code


def test_malformed_and_oversized_requests_get_4xx_and_the_server_stays_up(app):
    port = int(app.url.rsplit(":", 1)[1])
    url = f"{app.base_url}/chat/completions"
    deep = b"[" * 4000 + b"]" * 4000  # nesting deep enough to overflow a recursive JSON parser
    cases = {
        "deeply nested JSON": (deep, 400),
        "non-UTF-8 bytes": (b"\xff\xfe\x00garbage", 400),
        "JSON null": (b"null", 400),
        "messages not a list": (b'{"messages": "hi"}', 400),
        "content parts of an image": (
            json.dumps(
                {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]}
            ).encode(),
            400,
        ),
        "oversized body": (b'{"messages": [{"role": "user", "content": "' + b"a" * 9000 + b'"}]}', 413),
        "n > 1": (json.dumps({**GOOD, "n": 3}).encode(), 400),
        "temperature as string": (json.dumps({**GOOD, "temperature": "hot"}).encode(), 400),
    }
    statuses = {}
    for name, (body, want) in cases.items():
        r = httpx.post(url, content=body, headers={"content-type": "application/json"}, timeout=30)
        statuses[name] = r.status_code
        assert r.status_code == want and r.json()["error"]["message"], (name, r.status_code, r.text[:200])
    # chunked upload with no Content-Length that grows past the limit
    chunked = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n"
        b"Content-Type: application/json\r\n\r\n"
        + b"".join(b"1000\r\n" + b"a" * 4096 + b"\r\n" for _ in range(4))
        + b"0\r\n\r\n"
    )
    assert b" 413 " in _raw(port, chunked).split(b"\r\n", 1)[0]
    # not HTTP at all, and a lying Content-Length
    assert _raw(port, b"\x16\x03\x01 not http at all\r\n\r\n").startswith(b"HTTP/1.1 400")
    lying = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: abc\r\n\r\n{}"
    assert _raw(port, lying).startswith(b"HTTP/1.1 4")
    assert _good(app) == 200
    print(
        f"\nRELIABILITY scenario 8a: {len(cases) + 3} malformed/oversized requests → 4xx "
        f"({sorted(set(statuses.values()))}), server still answering"
    )


def test_slow_clients_are_timed_out_while_good_requests_are_answered(app):
    port = int(app.url.rsplit(":", 1)[1])
    socks: list[socket.socket] = []
    stop = threading.Event()
    try:
        for i in range(30):  # half trickle the headers, half the body
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                s.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n"
                    b"Content-Type: application/json\r\n\r\n{"
                )
            else:
                s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            socks.append(s)

        def trickle():  # one byte per socket per second, bounded by the stop event
            while not stop.wait(1.0):
                for s in socks:
                    try:
                        s.send(b"a")
                    except OSError:
                        pass

        t = threading.Thread(target=trickle, daemon=True)
        t.start()
        t0 = time.monotonic()
        codes = [_good(app) for _ in range(5)]
        good_s = time.monotonic() - t0
        assert codes == [200] * 5
        time.sleep(2.5)  # past body_timeout_s
        timed_out = 0
        for s in socks[1::2]:  # body tricklers: answered 408 and closed
            s.settimeout(5)
            try:
                head = s.recv(4096)
            except OSError:
                head = b""
            timed_out += head.startswith(b"HTTP/1.1 408")
        assert timed_out == len(socks[1::2]), f"only {timed_out} of {len(socks[1::2])} slow bodies got 408"
    finally:
        stop.set()
        for s in socks:
            s.close()
    assert _good(app) == 200 and httpx.get(f"{app.url}/health").status_code == 200
    print(
        f"\nRELIABILITY scenario 8b: 30 slowloris sockets; 5 good requests answered in {good_s:.1f} s meanwhile; "
        f"{timed_out}/15 slow bodies got 408 after the 2 s body timeout"
    )
