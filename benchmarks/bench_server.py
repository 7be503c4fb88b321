"""Embedded server throughput: aggregate tokens/s and TTFT p50/p95 at 1, 4 and 8 concurrent streams,
through the raw openai client (baseline) and through wb.chat_many (our client), same prompts, cache off;
then the busy-machine row: generation tokens/s of one stream with 0, 1 and 2 background CPU-bound processes,
llama.cpp's default threads vs the workbench's thread rule (:mod:`workbench.llm.threads`), as a ratio of quiet.

    .venv/bin/python benchmarks/bench_server.py [--tokens 100] [--rounds 3] [--busy-only]
        [--candidate NAME=ARGS ...] [--loads 0,1,2] [--busy-tokens 64] [--streams 1]
Prints medians over rounds and the ratios; ``--candidate 't1=-t 1 --poll 0'`` adds server command lines to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shlex
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai

import workbench as wb
from workbench.llm.client import no_keepalive_http_client
from workbench.llm.local import ServerOptions, ensure_server, start_server
from workbench.llm.threads import load_average, machine, plan_threads

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import background, quick, save, stats
from workbench.llm.threads import cpu_ticks


async def raw(base_url: str, n: int, tokens: int) -> tuple[float, int, list[float]]:
    client = openai.AsyncOpenAI(
        base_url=base_url, api_key="none", max_retries=0, http_client=no_keepalive_http_client()
    )

    async def one(i):
        t0 = time.perf_counter()
        ttft, ct = None, 0
        stream = await client.chat.completions.create(
            model="smollm2",
            messages=[{"role": "user", "content": f"Write a long story about hiking, part {i}."}],
            max_tokens=tokens,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
        )
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
    recs = wb.chat_many(
        [f"Write a long story about hiking, part {i}." for i in range(n)],
        model="local",
        cache="off",
        max_tokens=tokens,
        temperature=0,
        progress=False,
    )
    return time.perf_counter() - t0, sum(r.completion_tokens or 0 for r in recs), [r.ttft_s for r in recs]


# ---------------------------------------------------------------- busy machine


def stream_once(root_url: str, tokens: int, deadline_s: float, i: int = 0) -> dict:
    """One streamed chat request with a fixed token count (``ignore_eos``), cut at ``deadline_s``.

    Returns generated tokens, generation tokens/s (after the first token) and wall tokens/s.
    """
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": f"Write a long story about hiking, part {i}."}],
        "max_tokens": tokens,
        "temperature": 0,
        "stream": True,
        "ignore_eos": True,
    }
    req = urllib.request.Request(
        f"{root_url}/v1/chat/completions", data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    t0 = time.perf_counter()
    first = last = None
    n = 0
    with urllib.request.urlopen(req, timeout=deadline_s + 5) as r:
        for line in r:
            if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
                continue
            ch = json.loads(line[6:])
            if ch.get("choices") and ch["choices"][0].get("delta", {}).get("content"):
                last = time.perf_counter()
                first = first or last
                n += 1
            if time.perf_counter() - t0 > deadline_s:
                break  # closing the connection cancels the generation
    wall = (last or time.perf_counter()) - t0
    gen = n - 1 if n > 1 else 0
    return {
        "tokens": n,
        "gen_tok_s": gen / (last - first) if gen and last > first else 0.0,
        "wall_tok_s": n / wall if wall > 0 else 0.0,
        "ttft_s": (first - t0) if first else None,
    }


def measure(
    root_url: str, tokens: int, streams: int, requests: int, deadline_s: float, pids: list[int] = ()
) -> list[tuple[float, float]]:
    """``requests`` rounds of ``streams`` concurrent requests: (aggregate generation tokens/s, other CPU) each.

    "Other CPU" is the cores' worth of CPU used meanwhile by processes other than ``pids`` (the server, this
    benchmark and its background load): other people's work on a shared machine.
    """
    out = []
    hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    pids = [os.getpid(), *pids]
    with ThreadPoolExecutor(streams) as pool:
        for k in range(requests):
            b0, o0, t0 = *cpu_ticks(pids), time.perf_counter()
            res = list(pool.map(lambda i, k=k: stream_once(root_url, tokens, deadline_s, i + k), range(streams)))
            b1, o1, t1 = *cpu_ticks(pids), time.perf_counter()
            out.append((sum(r["gen_tok_s"] for r in res), max(0.0, ((b1 - b0) - (o1 - o0)) / hz / (t1 - t0))))
    return out


def parse_candidates(specs: list[str]) -> dict[str, list[str]]:
    """``old`` (llama.cpp's default), ``new`` (the rule on this machine) and any ``NAME=ARGS`` given."""
    cands = {"old (llama.cpp default)": [], f"new ({' '.join(plan_threads().args())})": plan_threads().args()}
    for spec in specs:
        name, _, args = spec.partition("=")
        cands[name] = shlex.split(args)
    return cands


def _table(title: str, samples: dict, names: list[str], loads: list[int], keep) -> dict:
    """Print and return medians per (server, load) of the samples ``keep`` accepts, with ratios of quiet."""
    print(title)
    print(f"{'server':<30}" + "".join(f"{f'{load} bg':>19}" for load in loads) + f"{'quiet/old':>10}")
    med = {
        k: statistics.median(v) if v else float("nan")
        for k, v in ((k, [t for t, other in vs if keep(other)]) for k, vs in samples.items())
    }
    n = {k: sum(1 for _, other in vs if keep(other)) for k, vs in samples.items()}
    out = {}
    quiet_old = med[(names[0], loads[0])]
    for name in names:
        q = med[(name, loads[0])]
        row = {
            f"background_{load}": {
                "median_tok_s": med[(name, load)],
                "n": n[(name, load)],
                "ratio_of_quiet": med[(name, load)] / q if q else float("nan"),
            }
            for load in loads
        }
        row["quiet_ratio_vs_old"] = q / quiet_old if quiet_old else float("nan")
        out[name] = row
        cells = [
            f"{med[(name, load)]:6.1f} ({row[f'background_{load}']['ratio_of_quiet']:.2f}) n={n[(name, load)]}"
            for load in loads
        ]
        print(f"{name[:29]:<30}" + "".join(f"{c:>19}" for c in cells) + f"{row['quiet_ratio_vs_old']:>10.2f}")
    return out


QUIET_OTHER_CPU = 0.25  # a sample is "clean" when other people's work used less than this many cores meanwhile


def busy_row(
    cands: dict[str, list[str]],
    loads: list[int],
    rounds: int,
    requests: int,
    tokens: int,
    streams: int,
    deadline_s: float,
) -> dict:
    """Tokens/s per candidate and background load: medians over interleaved rounds (candidate order rotates).

    On a shared machine other people's work comes and goes, so every sample also records the CPU that others
    used meanwhile; the second table keeps only the samples taken while others used < 0.25 cores.
    """
    servers = {}
    try:
        for name, args in cands.items():
            servers[name] = start_server(ServerOptions(threads=0, extra_args=args))  # threads=0: args say it all
        for h in servers.values():  # warm-up
            measure(h.root_url, 8, 1, 1, deadline_s)
        samples = {(n, load): [] for n in cands for load in loads}
        loadavg = {load: [] for load in loads}
        names = list(cands)
        for r in range(rounds):
            for load in loads:
                with background(load) as bg:
                    for name in names[r % len(names) :] + names[: r % len(names)]:
                        samples[(name, load)] += measure(
                            servers[name].root_url, tokens, streams, requests, deadline_s, [servers[name].pid, *bg]
                        )
                    loadavg[load].append(load_average()[0] if load_average() else None)
    finally:
        for h in servers.values():
            h.stop()
    head = (
        f"{streams} stream(s) x {tokens} tokens, generation tok/s, median of {rounds} interleaved rounds x "
        f"{requests} requests; (ratio) = busy / the same server quiet"
    )
    out = {
        "tokens": tokens,
        "streams": streams,
        "requests_per_round": requests,
        "rounds": rounds,
        "background": "CPU-bound `while True: pass` Python processes",
        "loadavg_1m_after_block": loadavg,
        "args": cands,
        "all": _table(f"\nbusy machine, all samples: {head}", samples, names, loads, lambda other: True),
        "clean": _table(
            f"\nbusy machine, samples while other users took < {QUIET_OTHER_CPU} cores:",
            samples,
            names,
            loads,
            lambda other: other < QUIET_OTHER_CPU,
        ),
        "other_cores_median": {
            load: statistics.median(o for name in names for _, o in samples[(name, load)]) for load in loads
        },
        "raw": {
            f"{name} | {load} bg": [{"tok_s": t, "other_cores": o} for t, o in samples[(name, load)]]
            for name, load in samples
        },
    }
    print(
        "other users' CPU meanwhile (median cores): "
        + ", ".join(f"{load} bg {v:.2f}" for load, v in out["other_cores_median"].items())
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tokens", type=int, default=32 if quick() else 100)
    ap.add_argument("--rounds", type=int, default=1 if quick() else 3)
    ap.add_argument("--busy-only", action="store_true", help="only the busy-machine row")
    ap.add_argument(
        "--candidate",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="extra llama-server arguments to compare in the busy row (repeatable)",
    )
    ap.add_argument(
        "--loads",
        default="0,1" if quick() else "0,1,2",
        help="background CPU-bound processes per block (default 0,1,2)",
    )
    ap.add_argument("--busy-tokens", type=int, default=32 if quick() else 64)
    ap.add_argument(
        "--busy-requests", type=int, default=2 if quick() else 3, help="requests per candidate per block (default 3)"
    )
    ap.add_argument("--streams", type=int, default=1, help="concurrent streams in the busy row (default 1)")
    ap.add_argument(
        "--deadline", type=float, default=4.0 if quick() else 8.0, help="cut a busy-row request after this many seconds"
    )
    ap.add_argument("--name", default="server", help="results file name (default server)")
    a = ap.parse_args()
    m = machine()
    print(
        f"machine: {m.physical} physical cores, {m.logical} CPUs ({m.allowed} allowed), load {m.load1}; "
        f"thread rule: {plan_threads().describe()}"
    )
    out = {
        "machine_threads": {
            "physical": m.physical,
            "logical": m.logical,
            "allowed": m.allowed,
            "load1_at_start": m.load1,
            "rule": plan_threads().describe(),
        }
    }
    if not a.busy_only:
        out.update(streams(a))
    out["busy"] = busy_row(
        parse_candidates(a.candidate),
        [int(x) for x in a.loads.split(",")],
        a.rounds,
        a.busy_requests,
        a.busy_tokens,
        a.streams,
        a.deadline,
    )
    save(a.name, out)


def streams(a) -> dict:
    """The 1/4/8-stream rows: raw client vs ours on the shared server."""
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
        ttfts = ttfts or [float("nan")]  # every request failed (a very busy machine)
        rm, om = statistics.median(r_tps), statistics.median(o_tps)
        print(
            f"{n:>7} {rm:>10.1f} {om:>10.1f} {om / rm:>6.2f} {np.percentile(ttfts, 50):>8.3f}s "
            f"{np.percentile(ttfts, 95):>8.3f}s"
        )
        out[f"streams_{n}"] = {
            "raw_tok_s": stats(r_tps),
            "ours_tok_s": stats(o_tps),
            "ratio": om / rm,
            "ttft_p50_s": float(np.percentile(ttfts, 50)),
            "ttft_p95_s": float(np.percentile(ttfts, 95)),
        }
    return out


if __name__ == "__main__":
    main()
