"""Evaluation throughput, the harness's own cost, and cached re-runs, on the embedded model.

0. Harness overhead (promptfoo-style): the same rows and prompt against one shared server, in interleaved
   rounds of fresh processes: a raw ``openai.AsyncOpenAI`` loop, ``raw-mlflow``: the same loop in a process that
   imports MLflow, opens the project's store and records the loop as one run with one metric (MLflow's presence,
   the least any harness that logs to MLflow costs), ``wb.evaluate(metrics=["quality"])`` with its
   defaults (an MLflow run, a trace per row), the same with ``trace=False``, ``eval-lexical``: untraced, without
   the quality family's MiniLM metric (``semantic_similarity``) but with its row traces, ``promptfoo``: the peer,
   promptfoo's own CLI (``promptfoo eval``, pinned below, on a pinned Node.js from the npm registry) sending the
   same requests (not streamed) to the same server with two lexical assertions per row (``icontains`` and ``rouge-n`` against the
   reference) and its results written to its own sqlite store, as a user's run is, and ``mlflow-floor``: MLflow alone
   writing each row's two spans through its public API (no model call, no metric), the least a row trace costs
   in MLflow's store with MLflow's own exporter, and ``workbench-floor``: the same traces, tagged as evaluation
   rows, through the workbench's whole-trace export (``workbench.tracing``: the trace, then its spans in one
   call, rows in batches). Reports the wall time of the
   work as a ratio of raw, and client CPU seconds per row (the whole process, imports included, and the
   marginal per-row part with start-up taken out), medians of the rounds. The traced evaluation and promptfoo
   also run on the first two rows in every round, which splits each one's CPU into a fixed part per run
   (start-up, opening and closing the run) and a part per row.
1. Throughput: N rows through `wb.evaluate` (all offline metrics, cache off, no MLflow logging) vs a raw
   async loop over the same chat calls (openai.AsyncOpenAI + a semaphore) at the same concurrency.
   Also `wb.evaluate` with only the cost metrics, to separate client overhead from metric cost.
2. Cached re-run: a --cached-rows eval run twice with the response cache (fresh checkpoints, so nothing
   is resumed): LLM calls made on the second run (must be 0), its wall time, and whether its cost and
   latency aggregates equal the first run's.

    .venv/bin/python benchmarks/bench_eval.py [--rows 200] [--rounds 3] [--cached-rows 1000] [--concurrency 8]
        [--only-overhead]
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

# The raw loop sends every request to one server (the URL it resolved once); the workbench's own calls would
# alternate between the local endpoint's replicas (workbench.llm.threads.plan_replicas). One server for both, so
# the ratios compare the clients, not the number of servers. Child processes inherit it.
os.environ.setdefault("WORKBENCH_LOCAL_REPLICAS", "1")

# what each fresh process of the rounds runs
OVERHEAD_MODES = (
    "raw",
    "raw-mlflow",
    "eval",
    "eval-notrace",
    "eval-lexical",
    "promptfoo",
    "mlflow-floor",
    "workbench-floor",
)
# eval-lexical: traced, and the quality family without its one model-backed metric (semantic_similarity, a
# MiniLM embedding of the answer per row): what that model's inference costs, by difference with eval, and the
# workbench's side of the comparison with promptfoo's lexical assertions (rows kept as evidence on both sides)
LEXICAL = ["quality/exact_match", "quality/f1", "quality/rouge_l"]
# the peer, pinned; promptfoo 0.123 needs Node.js >= 22.22 (the machine's may be older): a Node.js build from the
# npm registry (node-linux-<arch>), both cached under ~/.cache/llmops-workbench/
PROMPTFOO, NODE = "0.123.1", "22.23.5"
# a run's fixed cost and its cost per row, apart: the traced evaluation and promptfoo also run on the first
# SMALL rows in every round ("eval@2", "promptfoo@2"); fixed = the small run less its rows, per row = the
# difference between the full and the small run over the rows between them
SMALL = 2


def _cpu_s(children: bool = False) -> float:
    """CPU seconds of this process, or with ``children`` of the child processes it has waited for."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def child(mode: str, dataset: str, project: str, concurrency: int, max_tokens: int) -> None:
    """One fresh process of the overhead rounds: run ``mode`` on ``dataset``, print a JSON line of its figures."""
    t_start = time.perf_counter()
    os.environ["WORKBENCH_PROJECT_DIR"] = project
    import workbench as wb  # as the notebooks use it: wb.load_dataset, wb.PromptCandidate, wb.evaluate

    cand = wb.PromptCandidate("local", name="c", max_tokens=max_tokens)
    ds = wb.load_dataset(dataset)
    if mode in ("mlflow-floor", "workbench-floor"):
        c_ready, t0 = _mlflow_floor(cand, ds.rows, workbench=mode == "workbench-floor")
    elif mode == "promptfoo":
        return _promptfoo(cand, ds.rows, Path(project), concurrency)
    elif mode == "raw":
        from workbench.llm.client import no_keepalive_http_client

        target = _target(cand)
        c_ready, t0 = _cpu_s(), time.perf_counter()
        asyncio.run(_raw(target, cand, ds.rows, concurrency, no_keepalive_http_client()))
    elif mode == "raw-mlflow":
        # MLflow's presence alone: the raw loop in a process that imports MLflow, opens the project's store and
        # records the loop as one run with one metric; no trace, no workbench metric
        import mlflow

        from workbench import tracking
        from workbench.llm.client import no_keepalive_http_client

        target = _target(cand)
        c_ready, t0 = _cpu_s(), time.perf_counter()
        tracking.configure()
        mlflow.set_experiment("bench-raw-mlflow")
        with mlflow.start_run():
            answers = asyncio.run(_raw(target, cand, ds.rows, concurrency, no_keepalive_http_client()))
            mlflow.log_metric("answered", sum(bool(a) for a in answers))
    else:
        evaluate = wb.evaluate  # loaded before the clock starts, as openai is for the raw loop

        c_ready, t0 = _cpu_s(), time.perf_counter()
        evaluate(
            ds,
            cand,
            metrics=LEXICAL if mode == "eval-lexical" else ["quality"],
            cache="off",
            progress=False,
            resume=False,
            concurrency=concurrency,
            trace=(mode != "eval-notrace"),
        )
    t1 = time.perf_counter()
    # cpu_s: the whole process (interpreter start-up and every import included), from its resource usage
    print(
        json.dumps(
            {
                "mode": mode,
                "work_s": t1 - t0,
                "process_s": t1 - t_start,
                "cpu_s": _cpu_s(),
                "work_cpu_s": _cpu_s() - c_ready,
            }
        )
    )


def _mlflow_floor(cand, rows, workbench: bool = False) -> tuple[float, float]:
    """MLflow's own cost of a row's trace: for each row, the two spans an evaluated row has (the candidate's CHAIN
    span, its CHAT_MODEL call inside) with the same inputs and a fixed answer, through MLflow's public fluent API
    into the project's store, no model call, no metric, no assessment; flushed at the end. ``workbench``: the
    traces carry the evaluation row's tag and go through the workbench's whole-trace export; else MLflow's own
    exporter writes them (``WORKBENCH_TRACE_EXPORT=mlflow``). Returns the CPU and clock readings taken once MLflow
    is imported and the experiment set."""
    os.environ["WORKBENCH_TRACE_EXPORT"] = "" if workbench else "mlflow"
    import mlflow
    from mlflow.entities import SpanType
    from mlflow.tracing.trace_manager import InMemoryTraceManager

    from workbench import tags as T, tracing, tracking

    tracking.configure()
    mlflow.set_experiment("bench-workbench-floor" if workbench else "bench-mlflow-floor")
    if workbench:
        tracing.install()  # the whole-trace export, and the span processor that scrubs secrets
    c_ready, t0 = _cpu_s(), time.perf_counter()
    for row in rows:
        msgs = cand.messages(row)
        with mlflow.start_span(name=cand.name, span_type=SpanType.CHAIN) as root:
            root.set_inputs({"messages": [{"role": "user", "content": row["question"]}], "id": row["id"], "repeat": 0})
            with mlflow.start_span(name="chat local:smollm2", span_type=SpanType.CHAT_MODEL) as call:
                call.set_inputs({"messages": msgs, **cand.gen_params})
                call.set_attributes({"workbench.latency_s": 0.2, "workbench.prompt_tokens": 40})
                call.set_outputs("A fixed answer of a few words.")
            root.set_outputs("A fixed answer of a few words.")
            if workbench:
                with InMemoryTraceManager.get_instance().get_trace(root.trace_id) as t:
                    t.info.tags[T.CANDIDATE] = cand.name
    tracing.flush()
    return c_ready, t0


def promptfoo_cmd() -> list[str]:
    """``promptfoo`` (``PROMPTFOO``) run by Node.js ``NODE``, installed from the npm registry the first time into
    ``~/.cache/llmops-workbench/promptfoo-<version>/`` (about 1.5 GB, two minutes here)."""
    import platform
    import subprocess

    arch = {"x86_64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine()]
    home = Path.home() / ".cache" / "llmops-workbench" / f"promptfoo-{PROMPTFOO}"
    node = home / "node_modules" / f"node-linux-{arch}" / "bin" / "node"
    entry = home / "node_modules" / "promptfoo" / "dist" / "src" / "entrypoint.js"
    if not (node.is_file() and entry.is_file()):
        print(f"installing promptfoo {PROMPTFOO} and Node.js {NODE} into {home} (once; about two minutes)", flush=True)
        home.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["npm", "install", "--prefix", str(home), "--no-audit", "--no-fund", "--loglevel=error",
             f"node-linux-{arch}@{NODE}", f"promptfoo@{PROMPTFOO}"],
            check=True,
            timeout=1200,
        )  # fmt: skip
    return [str(node), str(entry)]


def _promptfoo(cand, rows, project: Path, concurrency: int) -> None:
    """One promptfoo run of the rows: the same requests as the workbench's (the rendered messages, the generation
    parameters, the adapters' scales; not streamed, promptfoo's way), at the same concurrency, no response cache, two lexical
    assertions per row, the results written to its sqlite store (``PROMPTFOO_CONFIG_DIR``, one per project, kept
    between runs like the workbench's store). Its client CPU is the Node.js process's own (``RUSAGE_CHILDREN`` across the call),
    not this Python process's, which only writes the config. Prints the figures as the other modes do; promptfoo's
    start-up is not separated from its rows (``work_cpu_s`` is null)."""
    import subprocess

    target = _target(cand)
    work = project / "promptfoo"
    work.mkdir(exist_ok=True)
    with (work / "tests.jsonl").open("w") as f:
        for row in rows:
            (msg,) = cand.messages(row)  # the one user message the candidate sends; the prompt is that text
            f.write(
                json.dumps({"description": row["id"], "vars": {"content": msg["content"], "ref": row["reference"]}})
            )
            f.write("\n")
    config = {
        "description": "bench_eval overhead",
        "prompts": ["{{content}}"],
        "providers": [
            {
                "id": "openai:chat:smollm2",
                "config": {
                    "apiBaseUrl": target.base_url,
                    "apiKey": "none",
                    **cand.gen_params,
                    **({"passthrough": target.extra_body} if target.extra_body else {}),
                },
            }
        ],
        "defaultTest": {
            "assert": [
                {"type": "icontains", "value": "{{ref}}"},
                {"type": "rouge-n", "value": "{{ref}}", "threshold": 0.0},
            ]
        },
        "tests": f"file://{work / 'tests.jsonl'}",
    }
    (work / "promptfooconfig.json").write_text(json.dumps(config, indent=1))
    env = {
        **os.environ,
        "PROMPTFOO_CONFIG_DIR": str(work / "store"),
        "PROMPTFOO_DISABLE_TELEMETRY": "1",
        "PROMPTFOO_DISABLE_UPDATE": "1",
    }
    cmd = [*promptfoo_cmd(), "eval", "-c", str(work / "promptfooconfig.json"), "-j", str(concurrency)]
    cmd += ["--no-cache", "--no-progress-bar", "--no-table"]

    c0, t0 = _cpu_s(children=True), time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800)
    t1 = time.perf_counter()
    # promptfoo exits 100 when some assertion failed (they do: the model is small); errors are other codes
    if out.returncode not in (0, 100) or f"{len(rows)} test cases" not in out.stdout + out.stderr:
        raise RuntimeError(f"promptfoo failed ({out.returncode}): {(out.stdout + out.stderr)[-2000:]}")
    cpu = _cpu_s(children=True) - c0  # the promptfoo process alone (not an install, not a server this process started)
    print(json.dumps({"mode": "promptfoo", "work_s": t1 - t0, "process_s": t1 - t0, "cpu_s": cpu, "work_cpu_s": None}))


def _target(cand):
    """Where the workbench sends ``cand``'s calls: the server's URL and the request body it adds (with adapters
    registered, every adapter's scale; a request without them is answered by another model, see docs/finetune.md)."""
    from workbench.llm.endpoints import resolve

    ep, model, kind = resolve(cand.model)
    return kind.target(ep, model)


async def _raw(target, cand, rows, concurrency: int, http_client):
    """The baseline: the same chat requests (the same body as the workbench's) through a bare
    ``openai.AsyncOpenAI`` loop and a semaphore."""
    client = openai.AsyncOpenAI(base_url=target.base_url, api_key="none", max_retries=0, http_client=http_client)
    sem = asyncio.Semaphore(concurrency)

    async def one(row):
        async with sem:
            s = await client.chat.completions.create(
                model="smollm2",
                messages=cand.messages(row),
                stream=True,
                stream_options={"include_usage": True},
                extra_body=target.extra_body or None,
                **cand.gen_params,
            )
            return "".join([ch.choices[0].delta.content or "" async for ch in s if ch.choices])

    return await asyncio.gather(*(one(r) for r in rows))


def overhead_rounds(
    dataset: Path, rows: int, rounds: int, concurrency: int, max_tokens: int, tmp: Path, modes=OVERHEAD_MODES
) -> dict:
    """Interleaved rounds of fresh processes (``modes``); medians, ratios to raw, CPU per row, and each mode's CPU
    over promptfoo's."""
    import subprocess

    project = tmp / "overhead-project"  # one project, its store created by the warm-up: a user's second run
    project.mkdir(exist_ok=True)
    small = tmp / f"first{SMALL}.jsonl"
    small.write_text("".join(dataset.read_text().splitlines(keepends=True)[:SMALL]))
    modes = (*modes, *(f"{m}@{SMALL}" for m in ("eval", "promptfoo") if m in modes))
    runs: dict[str, list[dict]] = {m: [] for m in modes}

    def run(mode: str) -> dict:
        child_mode, _, n = mode.partition("@")
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                child_mode,
                "--child-dataset",
                str(small if n else dataset),
                "--child-project",
                str(project),
                "--concurrency",
                str(concurrency),
                "--max-tokens",
                str(max_tokens),
            ],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
        if out.returncode or not lines:
            raise RuntimeError(f"overhead child {mode} failed ({out.returncode}): {out.stderr[-2000:]}")
        return json.loads(lines[-1])

    run("eval")  # warm-up: creates the project's store, loads the OS file cache
    if "promptfoo" in modes:
        run("promptfoo")  # its warm-up: installs it the first time, creates its store
    for r in range(rounds):
        order = modes if r % 2 == 0 else tuple(reversed(modes))
        for mode in order:
            runs[mode].append(run(mode))
            print(
                f"  round {r + 1} {mode:15s} work {runs[mode][-1]['work_s']:6.1f}s  "
                f"cpu {runs[mode][-1]['cpu_s']:5.2f}s",
                flush=True,
            )

    def median(v: list[dict], k: str) -> float | None:
        xs = [x[k] for x in v if x[k] is not None]
        return stats(xs)["median"] if xs else None  # promptfoo's start-up is not separated from its rows

    med = {m: {k: median(v, k) for k in ("work_s", "process_s", "cpu_s", "work_cpu_s")} for m, v in runs.items()}
    raw = med["raw"]
    out = {
        "rows": rows,
        "rounds": rounds,
        "concurrency": concurrency,
        "max_tokens": max_tokens,
        "runs": runs,
        "median": med,
    }
    for m in modes:
        work_cpu = med[m]["work_cpu_s"]
        n = SMALL if "@" in m else rows
        out[m] = {
            # the floor does no model call, the small runs fewer rows: their time is not comparable with raw's
            "work_ratio": med[m]["work_s"] / raw["work_s"] if not m.endswith("-floor") and "@" not in m else None,
            "cpu_ms_per_row": 1000 * med[m]["cpu_s"] / n,
            "work_cpu_ms_per_row": None if work_cpu is None else 1000 * work_cpu / n,
            "startup_cpu_s": None if work_cpu is None else med[m]["cpu_s"] - work_cpu,
        }
    if "promptfoo" in modes:
        # the peer measured in this run: whole-process client CPU of each workbench mode over promptfoo's
        out["cpu_over_promptfoo"] = {m: med[m]["cpu_s"] / med["promptfoo"]["cpu_s"] for m in modes if "@" not in m}
    # each run's fixed CPU (start-up, opening and closing the run) and its CPU per row, from the small runs
    out["fixed_and_per_row"] = {}
    for m in ("eval", "promptfoo"):
        if f"{m}@{SMALL}" in modes:
            per_row = (med[m]["cpu_s"] - med[f"{m}@{SMALL}"]["cpu_s"]) / (rows - SMALL)
            out["fixed_and_per_row"][m] = {
                "fixed_cpu_s": med[f"{m}@{SMALL}"]["cpu_s"] - SMALL * per_row,
                "cpu_ms_per_row": 1000 * per_row,
            }
            print(
                f"  {m}: fixed {out['fixed_and_per_row'][m]['fixed_cpu_s']:.2f}s a run, {1000 * per_row:.1f} ms a row"
            )
    print(f"harness overhead, {rows} rows, metrics=['quality'], {rounds} interleaved rounds (medians):")
    for m in modes:
        o = out[m]
        per_row = "start-up not separated" if o["startup_cpu_s"] is None else (
            f"start-up {o['startup_cpu_s']:.2f}s, per row {o['work_cpu_ms_per_row']:.1f} ms"
        )  # fmt: skip
        print(
            f"  {m:15s} work {med[m]['work_s']:6.1f}s  ratio {o['work_ratio'] or float('nan'):.3f}   "
            f"CPU {med[m]['cpu_s']:5.2f}s = {o['cpu_ms_per_row']:5.1f} ms/row ({per_row})"
        )
    return out


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import quick, save, stats  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=12 if quick() else 200)
    ap.add_argument("--cached-rows", type=int, default=24 if quick() else 1000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=8 if quick() else 24)
    ap.add_argument("--rounds", type=int, default=1 if quick() else 3, help="interleaved rounds of the overhead part")
    ap.add_argument(
        "--only-overhead",
        action="store_true",
        help="only part 0 (the interleaved overhead rounds), written to results/eval_overhead.json",
    )
    ap.add_argument(
        "--no-promptfoo",
        action="store_true",
        help=f"leave out the peer (promptfoo {PROMPTFOO}, installed with npm on first use; left out in quick mode)",
    )
    ap.add_argument("--child", choices=OVERHEAD_MODES, help=argparse.SUPPRESS)
    ap.add_argument("--child-dataset", help=argparse.SUPPRESS)
    ap.add_argument("--child-project", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a.child, a.child_dataset, a.child_project, a.concurrency, a.max_tokens)
    tmp = Path(tempfile.mkdtemp(prefix="wb-bench-eval-"))
    os.environ["WORKBENCH_PROJECT_DIR"] = str(tmp)
    import workbench as wb
    from evalkit import write_dataset
    from workbench.candidates import PromptCandidate
    from workbench.llm.client import no_keepalive_http_client

    cand = PromptCandidate("local", name="c", max_tokens=a.max_tokens)
    target = _target(cand)
    ds = wb.load_dataset(write_dataset(tmp / "qa.jsonl", a.rows))

    async def raw(rows, concurrency):
        return await _raw(target, cand, rows, concurrency, no_keepalive_http_client())

    asyncio.run(raw(ds.rows[:8], 8))  # warm-up
    # quick mode (the test suite's smoke run) leaves the peer out: it would install 1.5 GB from npm
    no_peer = a.no_promptfoo or quick()
    modes = tuple(m for m in OVERHEAD_MODES if not (no_peer and m == "promptfoo"))
    overhead = overhead_rounds(tmp / "qa.jsonl", a.rows, a.rounds, a.concurrency, a.max_tokens, tmp, modes)
    if a.only_overhead:
        save("eval_overhead", {"overhead": overhead, "rows": a.rows})
        return
    # throughput at concurrency 1, 4, 8 (interleaved raw / ours) to show where the server saturates
    sweep = {}
    for conc in (4,) if quick() else (1, 4, 8):
        n = min(a.rows, 40)
        sub = wb.load_dataset(ds.df.head(n), name=f"c{conc}")
        t0 = time.perf_counter()
        asyncio.run(raw(sub.rows, conc))
        tr = time.perf_counter() - t0
        t0 = time.perf_counter()
        wb.evaluate(
            sub,
            [cand],
            cache="off",
            log=False,
            progress=False,
            concurrency=conc,
            resume=False,
            checkpoint=tmp / f"conc{conc}.jsonl",
        )
        to = time.perf_counter() - t0
        sweep[conc] = {"raw_rows_s": n / tr, "eval_rows_s": n / to, "ratio_time": to / tr}
        print(
            f"concurrency {conc}: raw {n / tr:.2f} rows/s, wb.evaluate (all offline metrics) {n / to:.2f} rows/s "
            f"(time ratio {to / tr:.2f})"
        )
    t0 = time.perf_counter()
    asyncio.run(raw(ds.rows, a.concurrency))
    t_raw = time.perf_counter() - t0

    def timed_eval(data, checkpoint, **kw):
        t = time.perf_counter()
        r = wb.evaluate(
            data, [cand], log=False, concurrency=a.concurrency, checkpoint=tmp / checkpoint, **{"progress": False, **kw}
        )
        return r, time.perf_counter() - t

    _, t_cost = timed_eval(ds, "c1.jsonl", metrics=["cost"], cache="off")
    res, t_all = timed_eval(ds, "c2.jsonl", cache="off")
    print(f"{a.rows} rows, concurrency {a.concurrency}, max_tokens {a.max_tokens}:")
    print(f"  raw async loop            {t_raw:6.1f}s  ({a.rows / t_raw:5.1f} rows/s)")
    print(f"  wb.evaluate, cost only    {t_cost:6.1f}s  ratio {t_cost / t_raw:.2f}")
    print(
        f"  wb.evaluate, all offline  {t_all:6.1f}s  ratio {t_all / t_raw:.2f}  "
        f"({len(res.metric_defs)} metrics, errors {int(res.rows['error'].notna().sum())})"
    )

    big = wb.load_dataset(write_dataset(tmp / "big.jsonl", a.cached_rows))
    first, t_first = timed_eval(big, "b1.jsonl", cache="use", progress=True)
    second, t_second = timed_eval(big, "b2.jsonl", cache="use")
    calls = int((~second.rows["cache_hit"]).sum())
    # the response's own figures come back from the cache; latency/queue_s is this run's wait for a slot (none
    # on a cached re-run), so it is not one of them
    keys = [k for k in first.metrics if k.startswith(("cost/", "latency/")) and not k.startswith("latency/queue_s")]
    same = all(abs(first.metrics[k] - second.metrics[k]) < 1e-9 for k in keys)
    print(
        f"{a.cached_rows}-row eval: first run {t_first:.1f}s; cached re-run {t_second:.1f}s "
        f"(x{t_first / t_second:.1f} faster), LLM calls made {calls}, cost+latency aggregates equal: {same} "
        f"({len(keys)} compared)"
    )
    save(
        "eval",
        {
            "overhead": overhead,
            "rows": a.rows,
            "raw_s": t_raw,
            "eval_cost_only_s": t_cost,
            "eval_all_s": t_all,
            "ratio_all": t_all / t_raw,
            "by_concurrency": sweep,
            "cached_rows": a.cached_rows,
            "cached_first_s": t_first,
            "cached_second_s": t_second,
            "cached_llm_calls": calls,
            "aggregates_equal": same,
        },
    )


if __name__ == "__main__":
    main()
