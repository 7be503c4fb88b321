"""Retries, backoff, AIMD and error records against a fault-injecting proxy in front of the real server."""

import time
from itertools import pairwise

import httpx
import openai
import pytest

from evalkit import ask
from workbench.config import settings
from workbench.llm.client import AIMDLimiter, classify_error, run_sync


def test_429_retry_after_is_honoured(faulty):
    proxy, client = faulty(script=["429", "429"], retry_after=0.4)
    t0 = time.monotonic()
    r = ask(client)
    assert r.ok and r.attempts == 3 and r.retries == 2
    assert time.monotonic() - t0 >= 0.8  # waited Retry-After twice
    limiter = client.limiter(settings().endpoints["faulty"])
    assert limiter.decreases == 2 and limiter.limit < 8


@pytest.mark.parametrize(
    "fault,error",
    [
        ("500", "server_error"),
        ("503", "server_error"),
        ("drop", "connection"),
        ("badjson", "invalid_response"),
        ("stall", "timeout"),
    ],
)
def test_persistent_fault_gives_an_error_record(faulty, fault, error):
    proxy, client = faulty(script=[fault] * 3, max_retries=2, timeout_s=1.0, stall_s=2.0)
    r = ask(client, stream=False)
    assert not r.ok and r.error == error, r.error_message
    assert r.attempts == 3 and r.retries == 2 and proxy.count(fault) == 3


def test_transient_fault_recovers(faulty):
    proxy, client = faulty(script=["500", "drop", "badsse"], max_retries=3)
    r = ask(client)
    assert r.ok and r.attempts == 4 and r.text


def test_an_error_event_mid_stream_is_an_error_not_a_short_answer(faulty):
    """The server gives up mid-answer with an SSE error event: the record is an error quoting the server's message,
    not the pieces before it passed off as an answer (nor a generic 'truncated stream')."""
    proxy, client = faulty(script=["sse_error"], max_retries=0)
    r = ask(client)
    assert not r.ok and "injected sse_error" in (r.error_message or ""), (r.error, r.error_message)
    assert proxy.count("sse_error") == 1


def test_backoff_grows(faulty):
    proxy, client = faulty(script=["500"] * 4, max_retries=4)
    client.backoff_base_s = 0.2
    r = ask(client)
    assert r.ok and r.attempts == 5
    gaps = [b[0] - a[0] for a, b in pairwise(proxy.log)]
    assert sum(gaps) > 0.2  # jittered, but 4 waits of up to 0.2, 0.4, 0.8, 1.6 s


def test_error_classes_of_final_4xx():
    def err(cls, code):
        return cls("x", response=httpx.Response(code, request=httpx.Request("POST", "http://127.0.0.1/")), body=None)

    assert classify_error(err(openai.AuthenticationError, 401)) == "auth"
    assert classify_error(err(openai.BadRequestError, 400)) == "bad_request"
    assert classify_error(err(openai.NotFoundError, 404)) == "not_found"


def test_aimd_halves_and_grows():
    async def go():
        lim = AIMDLimiter(8)
        await lim.acquire()
        await lim.release("rate_limit", 0.05)
        assert lim.limit == 4
        for _ in range(20):
            await lim.acquire()
            await lim.release(None)
        return lim.limit

    limit = run_sync(go())
    assert 4 < limit <= 8


def test_batch_of_100_with_random_faults_loses_no_row(faulty):
    proxy, client = faulty(
        rates={"429": 0.1, "500": 0.1, "drop": 0.05, "badjson": 0.05, "stall": 0.03},
        seed=7,
        max_retries=2,
        timeout_s=1.0,
        stall_s=1.5,
        retry_after=0.1,
    )
    prompts = [f"Reply with the number {i}." for i in range(100)]
    recs = run_sync(client.achat_many(prompts, "faulty", max_tokens=4, progress=False), timeout=300)
    assert len(recs) == 100
    assert all(
        r.ok or r.error in {"rate_limit", "server_error", "connection", "invalid_response", "timeout"} for r in recs
    )
    retried = sum(r.retries for r in recs)
    injected = sum(1 for _, f in proxy.log if f != "ok")
    assert retried > 0 and injected > 0
    # every request accounted for: no attempt the client did not count (seen <= made); an attempt whose 1 s timeout
    # fires before the proxy has read its body is made but never seen (seen 3 times in 6 runs, on 3d018a6 too)
    made, seen = sum(r.attempts for r in recs), len(proxy.log)
    assert seen <= made <= seen + 2, (made, seen)
    print(
        f"\n100-row batch: {sum(r.ok for r in recs)} ok, {sum(not r.ok for r in recs)} error records, "
        f"{injected} injected faults, {retried} retries"
    )
