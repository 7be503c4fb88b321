"""Embedded server throughput: aggregate tokens/s and TTFT p50/p95 at 1, 4 and 8 concurrent streams,
through the raw openai client (baseline) and through wb.chat_many (our client), same prompts, cache off.

    .venv/bin/python benchmarks/bench_server.py [--tokens 100] [--rounds 3]
Prints medians over rounds and the ratio ours/raw.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import openai

import workbench as wb
from workbench.llm.client import no_keepalive_http_client
from workbench.llm.local import ensure_server

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save, stats  # noqa: E402


async def raw(base_url: str, n: int, tokens: int) -> tuple[float, int, list[float]]:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none", max_retries=0,
                                http_client=no_keepalive_http_client())

    async def one(i):
        t0 = time.perf_counter()
        ttft, ct = None, 0
        stream = await client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": f"Write a long story about hiking, part {i}."}],
            max_tokens=tokens, temperature=0, stream=True, stream_options={"include_usage": True})
        async for ch in stream:
            if ch.choices and ch.choices[0].delta.content and ttft is None:
                ttft = time.perf_counter() - t0
            if ch.usage:
                ct = ch.usage.completion_tokens
        return ttft, ct

    t0 = time.perf_counter()
    res = await asyncio.gather(*(one(i) for i in range(n)))
    return time.perf_counter() - t0, sum(r[1] for r in res), [r[0] for r in res]


def ours(n: int, tokens: int) -> tuple[float, int, list[float]]:
    t0 = time.perf_counter()
    recs = wb.chat_many([f"Write a long story about hiking, part {i}." for i in range(n)], model="local",
                        cache="off", max_tokens=tokens, temperature=0, progress=False)
    return time.perf_counter() - t0, sum(r.completion_tokens or 0 for r in recs), [r.ttft_s for r in recs]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=32 if quick() else 100)
    ap.add_argument("--rounds", type=int, default=1 if quick() else 3)
    a = ap.parse_args()
    h = ensure_server()
    print(f"llama-server pid {h.pid} at {h.base_url}; {a.tokens} tokens per stream, median of {a.rounds} rounds")
    print(f"{'streams':>7} {'raw tok/s':>10} {'ours tok/s':>10} {'ratio':>6} {'TTFT p50':>9} {'TTFT p95':>9}")
    ours(1, 8)  # warm-up
    out = {}
    for n in (1, 4, 8):
        r_tps, o_tps, ttfts = [], [], []
        for _ in range(a.rounds):
            wall, toks, _ = asyncio.run(raw(h.base_url, n, a.tokens))
            r_tps.append(toks / wall)
            wall, toks, tt = ours(n, a.tokens)
            o_tps.append(toks / wall)
            ttfts += [t for t in tt if t]
        rm, om = statistics.median(r_tps), statistics.median(o_tps)
        print(f"{n:>7} {rm:>10.1f} {om:>10.1f} {om / rm:>6.2f} {np.percentile(ttfts, 50):>8.3f}s "
              f"{np.percentile(ttfts, 95):>8.3f}s")
        out[f"streams_{n}"] = {"raw_tok_s": stats(r_tps), "ours_tok_s": stats(o_tps), "ratio": om / rm,
                               "ttft_p50_s": float(np.percentile(ttfts, 50)), "ttft_p95_s": float(np.percentile(ttfts, 95))}
    save("server", out)


if __name__ == "__main__":
    main()
