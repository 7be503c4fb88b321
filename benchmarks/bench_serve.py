"""Served app overhead: the same chat requests sent straight to the embedded llama-server (baseline) and through
`workbench app serve` (prompt-only app: validation, an MLflow trace per request with PII redaction, the workbench
client), with the plain `openai` client, interleaved over rounds.

    .venv/bin/python benchmarks/bench_serve.py [--requests 16] [--rounds 3] [--concurrency 4]
Prints median wall time per batch for raw, the app without tracing and the traced app, and ratios to raw.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import openai

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save, stats


def batch(base_url: str, model: str, n: int, concurrency: int, tokens: int, stream: bool) -> float:
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=120)

    def one(i: int) -> None:
        msgs = [{"role": "user", "content": f"Name one item to pack for a hike (list {i})."}]
        if stream:
            for _ in client.chat.completions.create(
                model=model, messages=msgs, max_tokens=tokens, temperature=0, stream=True
            ):
                pass
        else:
            client.chat.completions.create(model=model, messages=msgs, max_tokens=tokens, temperature=0)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=8 if quick() else 16)
    ap.add_argument("--rounds", type=int, default=1 if quick() else 3)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--tokens", type=int, default=32)
    a = ap.parse_args()
    import os

    os.environ["WORKBENCH_PROJECT_DIR"] = tempfile.mkdtemp(prefix="bench-serve-")
    from workbench import serve
    from workbench.llm.local import ensure_server

    raw_url = ensure_server().base_url
    common = {"system_prompt": None, "params": {"max_tokens": a.tokens}}
    apps = {
        "app": serve.start({"name": "bench", **common}),
        "app_untraced": serve.start({"name": "bench-untraced", "trace": False, **common}),
    }
    apps["app"]
    results: dict = {}
    try:
        for stream in (False, True):
            times: dict[str, list[float]] = {"raw": [], **{k: [] for k in apps}}
            for h in apps.values():
                batch(h.base_url, "bench", 2, 2, a.tokens, stream)  # warm-up: imports, first trace
            for r in range(a.rounds):  # interleaved and rotated, so load drifts hit all three
                order = [("raw", raw_url), *((k, h.base_url) for k, h in apps.items())]
                for name, url in order[r % 3 :] + order[: r % 3]:
                    times[name].append(
                        batch(url, "smollm2" if name == "raw" else "bench", a.requests, a.concurrency, a.tokens, stream)
                    )
            key = "stream" if stream else "plain"
            r = {k: stats(v) for k, v in times.items()}
            r["ratio_app_over_raw"] = r["app"]["median"] / r["raw"]["median"]
            r["ratio_untraced_over_raw"] = r["app_untraced"]["median"] / r["raw"]["median"]
            results[key] = r
            print(
                f"{key:6s} {a.requests} requests x{a.concurrency}: raw {r['raw']['median']:.2f}s, "
                f"app untraced {r['app_untraced']['median']:.2f}s ({r['ratio_untraced_over_raw']:.2f}), "
                f"app traced {r['app']['median']:.2f}s ({r['ratio_app_over_raw']:.2f})"
            )
        from workbench.monitor import collect_traces

        t0 = time.perf_counter()
        n = len(collect_traces("app-bench"))
        results["traces"] = {"count": n, "collect_s": time.perf_counter() - t0}
        print(f"{n} traces stored; collect_traces read them in {results['traces']['collect_s']:.2f}s")
    finally:
        for h in apps.values():
            h.stop()
    save("serve", {"requests": a.requests, "concurrency": a.concurrency, "tokens": a.tokens, **results})


if __name__ == "__main__":
    main()
