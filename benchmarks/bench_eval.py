"""Evaluation throughput and cached re-runs, on the embedded model.

1. Throughput: N rows through `wb.evaluate` (all offline metrics, cache off, no MLflow logging) vs a raw
   async loop over the same chat calls (openai.AsyncOpenAI + a semaphore) at the same concurrency.
   Also `wb.evaluate` with only the cost metrics, to separate client overhead from metric cost.
2. Cached re-run: a --cached-rows eval run twice with the response cache (fresh checkpoints, so nothing
   is resumed): LLM calls made on the second run (must be 0), its wall time, and whether its cost and
   latency aggregates equal the first run's.

    .venv/bin/python benchmarks/bench_eval.py [--rows 200] [--cached-rows 1000] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save, stats  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=24 if quick() else 200)
    ap.add_argument("--cached-rows", type=int, default=60 if quick() else 1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=24)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-eval-"))
    os.environ["WORKBENCH_PROJECT_DIR"] = str(tmp)
    import workbench as wb
    from workbench.llm.client import no_keepalive_http_client
    from evalkit import write_dataset
    from workbench.candidates import PromptCandidate
    from workbench.llm.local import ensure_server

    h = ensure_server()
    cand = PromptCandidate("local", name="c", max_tokens=a.max_tokens)
    ds = wb.load_dataset(write_dataset(tmp / "qa.jsonl", a.rows))

    async def raw(rows, concurrency):
        client = openai.AsyncOpenAI(base_url=h.base_url, api_key="none", max_retries=0,
                                    http_client=no_keepalive_http_client())
        sem = asyncio.Semaphore(concurrency)

        async def one(row):
            async with sem:
                s = await client.chat.completions.create(model="smollm2", messages=cand.messages(row), stream=True,
                                                         stream_options={"include_usage": True},
                                                         **cand.gen_params)
                return "".join([ch.choices[0].delta.content or "" async for ch in s if ch.choices])

        return await asyncio.gather(*(one(r) for r in rows))

    asyncio.run(raw(ds.rows[:8], 8))  # warm-up
    # throughput at concurrency 1, 4, 8 (interleaved raw / ours) to show where the server saturates
    sweep = {}
    for conc in ((4,) if quick() else (1, 4, 8)):
        n = min(a.rows, 40)
        sub = wb.load_dataset(ds.df.head(n), name=f"c{conc}")
        t0 = time.perf_counter()
        asyncio.run(raw(sub.rows, conc))
        tr = time.perf_counter() - t0
        t0 = time.perf_counter()
        wb.evaluate(sub, [cand], cache="off", log=False, progress=False, concurrency=conc, resume=False,
                    checkpoint=tmp / f"conc{conc}.jsonl")
        to = time.perf_counter() - t0
        sweep[conc] = {"raw_rows_s": n / tr, "eval_rows_s": n / to, "ratio_time": to / tr}
        print(f"concurrency {conc}: raw {n / tr:.2f} rows/s, wb.evaluate (all offline metrics) {n / to:.2f} rows/s "
              f"(time ratio {to / tr:.2f})")
    t0 = time.perf_counter()
    asyncio.run(raw(ds.rows, a.concurrency))
    t_raw = time.perf_counter() - t0
    def timed_eval(data, checkpoint, **kw):
        t = time.perf_counter()
        r = wb.evaluate(data, [cand], log=False, concurrency=a.concurrency, checkpoint=tmp / checkpoint,
                        **{"progress": False, **kw})
        return r, time.perf_counter() - t

    _, t_cost = timed_eval(ds, "c1.jsonl", metrics=["cost"], cache="off")
    res, t_all = timed_eval(ds, "c2.jsonl", cache="off")
    print(f"{a.rows} rows, concurrency {a.concurrency}, max_tokens {a.max_tokens}:")
    print(f"  raw async loop            {t_raw:6.1f}s  ({a.rows / t_raw:5.1f} rows/s)")
    print(f"  wb.evaluate, cost only    {t_cost:6.1f}s  ratio {t_cost / t_raw:.2f}")
    print(f"  wb.evaluate, all offline  {t_all:6.1f}s  ratio {t_all / t_raw:.2f}  "
          f"({len(res.metric_defs)} metrics, errors {int(res.rows['error'].notna().sum())})")

    big = wb.load_dataset(write_dataset(tmp / "big.jsonl", a.cached_rows))
    first, t_first = timed_eval(big, "b1.jsonl", cache="use", progress=True)
    second, t_second = timed_eval(big, "b2.jsonl", cache="use")
    calls = int((~second.rows["cache_hit"]).sum())
    keys = [k for k in first.metrics if k.startswith(("cost/", "latency/"))]
    same = all(abs(first.metrics[k] - second.metrics[k]) < 1e-9 for k in keys)
    print(f"{a.cached_rows}-row eval: first run {t_first:.1f}s; cached re-run {t_second:.1f}s "
          f"(x{t_first / t_second:.1f} faster), LLM calls made {calls}, cost+latency aggregates equal: {same} "
          f"({len(keys)} compared)")
    save("eval", {"rows": a.rows, "raw_s": t_raw, "eval_cost_only_s": t_cost, "eval_all_s": t_all,
                  "ratio_all": t_all / t_raw, "by_concurrency": sweep, "cached_rows": a.cached_rows,
                  "cached_first_s": t_first, "cached_second_s": t_second, "cached_llm_calls": calls,
                  "aggregates_equal": same})


if __name__ == "__main__":
    main()
