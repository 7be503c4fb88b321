"""The ``workbench`` command: a thin layer over the Python API (each subcommand calls one function)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import (  # noqa: F401
    EXIT_BUDGET,
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    WorkbenchError,
)

# Exit codes: defined with the errors that carry them (workbench/errors.py), documented in `workbench --help`.
EPILOG = """exit codes:
  0  ok
  1  failed: a notebook run or sweep cell failed, a gate did not pass or was inconclusive (`compare --gate`, or a gate a
     notebook recorded: `run` prints its PASS/FAIL/INCONCLUSIVE lines), a doctor check or
     `finetune validate` failed, `monitor` found a critical rule firing
  2  usage error (bad or missing arguments; an unknown `-p NAME` unless --allow-unknown-params)
  3  stopped at the budget (`eval --budget-usd`); re-run with a larger budget to resume
  4  workbench error (invalid dataset or config, unknown model, endpoint unreachable, missing set-up);
     the message on stderr names the file/line and the fix
  130 interrupted (Ctrl-C)
Each command has --help."""


def _serve(a) -> int:
    from .llm.local import ServerOptions, serve_foreground

    return serve_foreground(a.port, ServerOptions(parallel=a.parallel, ctx=a.ctx, lora=a.lora or [], threads=a.threads))


def _model_status(a) -> int:
    from .llm.local import run_dir, server_status

    servers = server_status()
    for st in servers:
        print(st.line())
    if not any(st.status in ("ready", "starting") for st in servers):
        print(f"the shared local model server is not running (it starts on demand; state in {run_dir()})")
    return EXIT_OK


def _model_stop(a) -> int:
    from .llm.local import stop_servers

    stopped = stop_servers()
    for st in stopped:
        print(
            f"stopped the shared llama-server at {st.url} (pid {st.pid}, supervisor {st.supervisor}; "
            f"{len(st.clients)} client(s) will start it again on their next call)"
        )
    if not stopped:
        print("no shared local model server was running")
    return EXIT_OK


def _setup(a) -> int:
    from .doctor import obtain_all

    times = obtain_all()
    print("ready: " + ", ".join(f"{k} {v:.1f}s" for k, v in times.items()))
    return 0


def _models(a) -> int:
    from .models import endpoint_table

    df = endpoint_table(check_health=not a.no_health)
    print(df.to_string(index=False))
    return 0


def _doctor(a) -> int:
    from .doctor import obtain_all, run_checks

    if a.fix:
        obtain_all()
    checks = run_checks(roundtrip=not a.no_roundtrip)
    for c in checks:
        print(f"{('warn' if c.warning else 'ok  ') if c.ok else 'FAIL'} {c.name:<16} {c.detail}")
        if not c.ok or c.warning:
            print(f"     fix: {c.fix}")
    bad = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(bad)}/{len(checks)} checks passed")
    return EXIT_FAILED if bad else EXIT_OK


def _demo(a) -> int:
    from .demo import run_demo

    run_demo(experiment=a.experiment, quick=a.quick)
    return 0


def _params(a) -> dict:
    """-f params.yaml then -p NAME VALUE pairs (later wins)."""
    from .config import read_yaml

    params: dict[str, Any] = {}
    if getattr(a, "params_file", None):
        loaded = read_yaml(a.params_file, "parameters") or {}
        if not isinstance(loaded, dict):
            raise WorkbenchError(f"{a.params_file}: expected a mapping of NAME: VALUE")
        params.update(loaded.get("parameters", loaded) if "grid" in loaded else loaded)
    for name, value in a.param or []:
        params[name] = value
    return params


HEADLINE_FAMILIES = ("quality", "honesty", "harm", "latency", "cost")  # what a user looks at first, in order
HEADLINE_STATS = ("mean", "rate", "p50", "p95", "total")


def headline_metrics(metrics: dict[str, float], limit: int = 20) -> list[tuple[str, float]]:
    """The ``limit`` metrics to print first: quality, honesty, harm, latency, cost (a family may sit behind a
    candidate prefix, e.g. ``base/quality/f1/mean``), their summary statistics before the rest; then the others."""

    def rank(key: str):
        parts = key.split("/")
        family = next((i for i, f in enumerate(HEADLINE_FAMILIES) if f in parts), len(HEADLINE_FAMILIES))
        return family, parts[-1] not in HEADLINE_STATS, key

    shown = {k: v for k, v in metrics.items() if not k.startswith("workbench/")}
    return [(k, shown[k]) for k in sorted(shown, key=rank)[:limit]]


def ui_link(experiment_id: str, run_id: str, port: int = 5000) -> str:
    """The run's page in the MLflow UI that ``workbench tracking ui`` serves."""
    return f"http://127.0.0.1:{port}/#/experiments/{experiment_id}/runs/{run_id}"


def _run(a) -> int:
    """Execute NOTEBOOK with papermill as one MLflow run: typed parameters, provenance tags, the executed
    notebook as .ipynb and .html, duration, status. The run goes to --experiment, else MLflow's active one
    (MLFLOW_EXPERIMENT_NAME), else workbench. Prints the gates the notebook recorded and exits 1 unless all
    passed."""
    from .runs.notebook import run_notebook

    r = run_notebook(
        a.notebook,
        parameters=_params(a),
        experiment=a.experiment,
        run_name=a.run_name,
        timeout=a.timeout,
        output=a.output,
        progress=not a.quiet,
        kernel=a.kernel,
        allow_unknown_params=a.allow_unknown_params,
    )
    print(f"run {r.run_id}: {r.status} in {r.duration_s:.1f}s -> {r.output_notebook}")
    top = headline_metrics(r.metrics)
    for k, v in top:
        print(f"  {k} = {v:.6g}")
    more = sum(not k.startswith("workbench/") for k in r.metrics) - len(top)
    if more > 0:
        print(f"  ({more} more metrics in the UI)")
    from .evaluate.verdict import gate_line

    for g in r.gates:  # the gates the notebook recorded (wb.evaluate.log_gates)
        print(gate_line(g))
    print(f"open it: {ui_link(r.experiment_id, r.run_id)}  (start the UI with `workbench tracking ui`)")
    if not r.ok:
        print(f"\nFAILED: {r.error}", file=sys.stderr)  # scrubbed by the lifecycle
        if r.traceback:
            print(r.traceback, file=sys.stderr)
        return EXIT_FAILED
    if not r.passed:
        print(
            f"\ngate verdict: {(r.verdict or 'fail').upper()} (the run FINISHED; tag workbench.gate={r.verdict})",
            file=sys.stderr,
        )
        return EXIT_FAILED
    return EXIT_OK


def _sweep(a) -> int:
    """Cartesian grid of notebook runs, each in its own process, under one parent MLflow run that logs a summary
    table."""
    from .config import read_yaml
    from .runs.sweep import parse_grid, sweep

    grid = {}
    if a.params_file:
        loaded = read_yaml(a.params_file, "parameters") or {}
        grid.update({k: list(v) if isinstance(v, list) else [v] for k, v in (loaded.get("grid") or {}).items()})
    grid.update(parse_grid(a.grid or []))
    r = sweep(
        a.notebook,
        grid,
        parameters=_params(a),
        experiment=a.experiment,
        workers=a.workers,
        executor=a.executor,
        scheduler=a.scheduler,
        max_runs=a.max_runs,
        resume=a.resume,
        timeout=a.timeout,
        allow_unknown_params=a.allow_unknown_params,
    )
    failed = sum(c["status"] != "FINISHED" for c in r.children)
    gated = sum(c.get("verdict") is not None for c in r.children)
    print(
        f"sweep {r.parent_run_id}: {len(r.children) - failed}/{len(r.children)} finished "
        f"({r.skipped} resumed) in {r.duration_s:.1f}s"
        + (f"; gates passed in {gated - r.gates_not_passed}/{gated} cells" if gated else "")
    )
    return EXIT_OK if failed == 0 and r.gates_not_passed == 0 else EXIT_FAILED


def _eval(a) -> int:
    """Evaluate MODEL on DATASET (JSONL/CSV/Parquet) with the offline metrics of all five families (plus judged
    ones with --judge); creates its own MLflow run and prints the summary. Re-running the same command resumes
    an interrupted evaluation."""
    from .evaluate.cli import run_eval_cli

    if bool(a.model) == bool(a.model_id):
        raise UsageError("give exactly one of --model NAME or --model-id MODEL_ID")
    if a.model_id:
        from . import rag  # noqa: F401 - registers the rag candidate kind, so a RAG LoggedModel can be rebuilt
    return run_eval_cli(
        dataset=a.dataset,
        model=a.model,
        model_id=a.model_id,
        system_prompt=a.system_prompt,
        metrics=a.metrics,
        repeats=a.repeats,
        experiment=a.experiment,
        run_name=a.run_name,
        dry_run=a.dry_run,
        budget_usd=a.budget_usd,
        judge=a.judge,
        concurrency=a.concurrency,
        cache=a.cache,
        max_tokens=a.max_tokens,
        trace=a.trace,
    )


def _compare(a) -> int:
    """Compare RUN_B against baseline RUN_A row by row: mean difference, its 95% interval and test (one method),
    BH over the primary metrics, effect size, flipped rows. A gate is a test at its margin: pass, fail or
    inconclusive. Exit 1 if a gate fails or is inconclusive (unless --allow-inconclusive); exit 2 for a
    malformed gate."""
    from .evaluate.compare import compare

    c = compare(
        a.run_a,
        a.run_b,
        metrics=a.metrics,
        gates=a.gate or [],
        allow_error_mismatch=a.allow_error_mismatch,
        allow_inconclusive=a.allow_inconclusive,
    )
    import pandas as pd

    print(c.headline())
    for k, (va, vb) in c.differences.items():
        print(f"  differs: {k}: {str(va)[:60]!r} -> {str(vb)[:60]!r}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        cols = [
            "metric",
            "role",
            "n",
            "mean_a",
            "mean_b",
            "diff",
            "ci_low",
            "ci_high",
            "p_value",
            "p_adjusted",
            "mde",
            "test",
        ]
        print(c.table[[x for x in cols if x in c.table]].round(4).to_string(index=False))
        if "correction" in c.table:
            print(
                "p_adjusted: Benjamini-Hochberg over the primary metrics (quality, honesty, harm); secondary ones "
                "unadjusted. CI: the test inverted (the same test as p_value); mde: detectable at 80% power"
            )
        if len(c.flipped):
            print(f"\nflipped rows: {len(c.flipped)} (first 10)")
            print(c.flipped.head(10)[["metric", "id", "a", "b"]].to_string(index=False))
    from .evaluate.verdict import gate_line

    for g in c.gates:
        print(gate_line(g))
    return EXIT_OK if c.passed else EXIT_FAILED  # inconclusive does not pass unless --allow-inconclusive


def _ft_validate(a) -> int:
    from .finetune.validate import validate_file

    rep = validate_file(a.file, test_set=a.test_set, model=a.model, epochs=a.epochs)
    print(rep.render())
    return EXIT_OK if rep.ok else EXIT_FAILED


def _ft_prepare(a) -> int:
    from .finetune.prepare import examples_from_corpus, examples_from_qa, split_examples, write_jsonl

    if not a.from_qa and not a.from_corpus:
        raise UsageError("give --from-qa PATH and/or --from-corpus DIR")
    ex = []
    if a.from_qa:
        ex += examples_from_qa(a.from_qa, split=a.split)
    if a.from_corpus:
        ex += examples_from_corpus(a.from_corpus, phrasings=a.phrasings, seed=a.seed)
    if a.exclude_test_set:
        from .finetune.prepare import remove_contaminated

        ex, dropped = remove_contaminated(ex, a.exclude_test_set)
        print(f"dropped {dropped} example(s) that match the test split of {a.exclude_test_set}")
    train, val = split_examples(ex, a.val_fraction, a.seed)
    out = __import__("pathlib").Path(a.out)
    write_jsonl(train, out / "train.jsonl")
    write_jsonl(val, out / "val.jsonl")
    print(f"{len(train)} training and {len(val)} validation examples in {out}/")
    return 0


def _ft_train(a) -> int:
    from pathlib import Path

    from .errors import DatasetError
    from .finetune.local_lora import require_extra, train_lora
    from .lifecycle import tracked_run

    require_extra()  # inputs first: no run for a missing extra or file
    for f in filter(None, (a.train, a.val)):
        if not Path(f).is_file():
            raise DatasetError("file not found", file=f)
    with tracked_run("finetune", a.run_name or "finetune-local", a.experiment) as run:
        res = train_lora(
            a.train,
            a.val,
            r=a.r,
            alpha=a.alpha,
            lr=a.lr,
            steps=a.steps,
            epochs=a.epochs,
            batch_size=a.batch_size,
            seed=a.seed,
            run_id=run.run_id,
        )
    if not run.ok:
        print(f"run {run.run_id} FAILED: {run.error}", file=sys.stderr)
        return EXIT_FAILED
    print(
        f"model {res.model}: {res.steps} steps in {res.train_s:.0f}s, final loss {res.losses[-1]:.3f}, "
        f"peak RSS {res.peak_rss_mb:.0f} MB (run {run.run_id})"
    )
    return 0


def _ft_serve(a) -> int:
    from .finetune.local_lora import serve_from_run

    print(serve_from_run(a.run_id))
    return 0


def _tracking_ui(a) -> int:
    """Run the MLflow UI (`mlflow server`, one worker) on the workspace store at http://127.0.0.1:PORT in the
    foreground; the URL is printed once it answers. Ctrl-C or SIGTERM stops it with all its workers (exit 0). A
    busy port is an error before anything starts (exit 4), as is a server that exits before it answers."""
    from .tracking_ui import serve_ui

    return serve_ui(port=a.port)


def _tracking_start(a) -> int:
    """Start `mlflow server` in the background (one worker, job execution off, its own process group) on the
    given store and artifact destination, wait for /health, and print the MLFLOW_TRACKING_URI clients should
    set. A busy port is an error (exit 4). Stop it with `workbench tracking stop`."""
    from .server import start_server

    info = start_server(
        db=a.db, artifacts=a.artifacts, host=a.host, port=a.port, timeout=a.timeout, extra_args=a.mlflow_arg or []
    )
    print(
        f"MLflow tracking server {info.url} (pid {info.pid}; store {info.db}; artifacts {info.artifacts}; "
        f"log {info.log})"
    )
    print(f"clients: export MLFLOW_TRACKING_URI={info.url}")
    for line in info.gateway:
        print(line)
    return 0


def _tracking_stop(a) -> int:
    """Stop the tracking server started by `workbench tracking start` (its whole process group)."""
    from .server import stop_server

    info = stop_server()
    print(f"stopped the tracking server at {info.url} (pid {info.pid})" if info else "no tracking server running")
    return 0


def _app_serve(a) -> int:
    from .serve import config_from_alias, config_from_model, config_from_run, load_config, serve

    if sum(map(bool, (a.config, a.from_run, a.model_id, a.alias))) != 1:
        raise UsageError(
            "give exactly one of --config CONFIG.yaml, --from-run RUN_ID, --model-id MODEL_ID or "
            "--alias ALIAS (with --name)"
        )
    if bool(a.alias) != bool(a.name):
        raise UsageError("--alias and --name go together: --alias production --name REGISTERED_MODEL")
    cfg = (
        load_config(a.config)
        if a.config
        else config_from_model(a.model_id)
        if a.model_id
        else config_from_alias(a.name, a.alias)
        if a.alias
        else config_from_run(a.from_run, a.candidate)
    )
    if a.no_redact:
        cfg.redact_pii = False
    serve(cfg, port=a.port, host=a.host)
    return 0


def _promote(a) -> int:
    """Register LoggedModel MODEL_ID as a new version of registered model --name and move --alias (default
    production) to it, in a tracked run with lineage tags; `workbench app serve --alias production --name NAME`
    then serves it."""
    from .serve import promote

    p = promote(a.model_id, a.name, alias=a.alias, evidence_run=a.evidence, experiment=a.experiment)
    print(
        f"{p.registered_model}@{p.alias} -> version {p.version} = logged model {p.model_id}"
        f" (was {p.previous_model_id or 'unset'}); run {p.run_id}"
    )
    print(f"serve it: workbench app serve --alias {p.alias} --name {p.registered_model}")
    return EXIT_OK


def _monitor(a) -> int:
    """Collect the app's traces from MLflow, compute windowed metrics (request and error rate, latency p50/p95,
    TTFT p95, tokens and cost per hour, groundedness and harm on a sample), evaluate the YAML rules and notify
    (log, JSONL file, webhook) with de-duplication and cooldown. From cron: `*/5 * * * * workbench monitor
    --rules r.yaml`."""
    from .monitor import Monitor, load_rules, parse_duration

    m = Monitor(load_rules(a.rules), experiment=a.experiment)
    if a.every is None:  # --once (the default)
        fired = m.check()
    else:
        fired = m.run(
            parse_duration(a.every, "--every"),
            duration_s=parse_duration(a.duration, "--duration") if a.duration else None,
            max_checks=a.max_checks,
        )
    print(f"{len(fired)} alert(s) fired; history: {m.history_path}")
    critical = m.firing("critical")
    if critical:
        print(f"critical rule(s) firing: {', '.join(critical)}", file=sys.stderr)
    return EXIT_FAILED if critical else EXIT_OK


def _command(sub, name: str, fn, help: str) -> argparse.ArgumentParser:
    """Add the subcommand ``name`` that ``fn`` runs; its ``--help`` description is ``fn``'s docstring."""
    s = sub.add_parser(name, help=help, description=fn.__doc__)
    s.set_defaults(fn=fn)
    return s


def _model_id_arg(s: argparse.ArgumentParser, help: str) -> None:
    """``--model-id MODEL_ID``: a candidate configuration recorded as an MLflow LoggedModel (eval, app serve)."""
    s.add_argument("--model-id", metavar="MODEL_ID", help=help)


def _serve_args(s: argparse.ArgumentParser) -> None:
    """The options of `workbench serve` and `workbench model serve`."""
    s.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    s.add_argument("--parallel", type=int, default=4, help="concurrent slots, continuous batching (default 4)")
    s.add_argument("--ctx", type=int, default=8192, help="total context tokens shared by the slots (default 8192)")
    s.add_argument("--lora", action="append", metavar="PATH", help="GGUF LoRA adapter (repeatable)")
    s.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads (generation and batch); default: "
        "[local] threads of workbench.toml, else half the physical cores; 0: llama.cpp's default",
    )
    s.set_defaults(fn=_serve)


def _tracking_start_args(s: argparse.ArgumentParser) -> None:
    """The options of `workbench tracking start` (and its old spelling `workbench server start`)."""
    s.add_argument(
        "--db",
        help="backend store URI, e.g. postgresql://user:pw@host:5432/mlflow (default: the workspace's sqlite store)",
    )
    s.add_argument(
        "--artifacts",
        metavar="PATH_OR_URI",
        help="artifact destination the server proxies: a folder or s3://bucket/prefix (default: <project>/mlartifacts)",
    )
    s.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    s.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for /health (default 120)")
    s.add_argument(
        "--mlflow-arg",
        action="append",
        metavar="ARG",
        help="extra `mlflow server` argument, e.g. --mlflow-arg=--app-name=basic-auth (repeatable)",
    )


def _tracking_ui_args(s: argparse.ArgumentParser) -> None:
    """The options of `workbench tracking ui` (and its old spelling `workbench ui`)."""
    s.add_argument("--port", type=int, default=5000, help="port (default 5000)")


# `workbench tracking ACTION`: (action, its old spelling, handler, one-line help, options). The old spellings are
# kept for a release: each runs the same handler after a one-line notice on stderr.
TRACKING_ACTIONS = (
    (
        "start",
        "server start",
        _tracking_start,
        "start a shared tracking server in the background and wait until it is healthy",
        _tracking_start_args,
    ),
    (
        "stop",
        "server stop",
        _tracking_stop,
        "stop the server started by `workbench tracking start` (its whole process group)",
        None,
    ),
    (
        "ui",
        "ui",
        _tracking_ui,
        "the MLflow UI on the workspace store, in the foreground, bound to 127.0.0.1",
        _tracking_ui_args,
    ),
)


def _tracking_commands(sub) -> None:
    """`workbench tracking start|stop|ui`, and the old spellings `workbench server start|stop` and `workbench ui`
    (left out of the command list; see :data:`TRACKING_ACTIONS`)."""
    trk = sub.add_parser(
        "tracking",
        help="the MLflow tracking server and UI: start, stop, ui",
        description="MLflow tracking for this workspace: `ui` serves the MLflow UI on the "
        "workspace store in the foreground; `start` and `stop` run a shared tracking server for a "
        "team in the background: PostgreSQL (or any SQLAlchemy) backend store, artifacts proxied "
        "by the server, lean start, health wait; clients only set MLFLOW_TRACKING_URI=http://HOST:"
        "PORT. See docs/deployment.md.",
    )
    tsub = trk.add_subparsers(dest="tracking_command", metavar="ACTION", required=True)
    old_server = sub.add_parser(
        "server",
        description="Old spelling of `workbench tracking start|stop` (kept for a "
        "release; it prints a notice on stderr).",
    )
    old_sub = old_server.add_subparsers(dest="server_command", metavar="ACTION", required=True)
    for action, old, fn, help_, add_args in TRACKING_ACTIONS:
        new = _command(tsub, action, fn, help=help_)
        legacy = (old_sub if old.startswith("server ") else sub).add_parser(
            old.split()[-1],
            description=f"Old spelling of `workbench tracking {action}` (kept for a release; it "
            f"prints a notice on stderr). {fn.__doc__}",
        )
        legacy.set_defaults(fn=fn, renamed=(old, f"tracking {action}"))
        for parser in (new, legacy):
            if add_args:
                add_args(parser)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="workbench",
        description="LLMOps Workbench: explore, augment, evaluate and "
        "operationalize LLM applications — offline by default.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from . import __version__

    p.add_argument("--version", action="version", version=f"llmops-workbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    serve_help = "run the embedded model server (llama-server) in the foreground"
    serve_text = (
        "Serve SmolLM2-135M-Instruct with llama.cpp on 127.0.0.1 as an OpenAI-compatible endpoint "
        "(/v1/chat/completions, streaming, /health) until Ctrl-C or SIGTERM, which stop the server too. "
        "A busy --port is an error (exit 4). This private server is not the shared one that calls to "
        "`local` start on demand: see `workbench model status`."
    )
    s = sub.add_parser("serve", help=serve_help, description=serve_text)
    _serve_args(s)

    mdl = sub.add_parser(
        "model",
        help="the shared local model server: serve, status, stop",
        description="The shared embedded llama-server that calls to `local` start on demand. A "
        "detached supervisor keeps it running on a fixed 127.0.0.1 port while any process uses it "
        "(each holds a lease), restarts it if it dies, and stops it WORKBENCH_LOCAL_IDLE_S (default "
        "60) seconds after its last client exits. See docs/deployment.md.",
    )
    msub = mdl.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    _serve_args(msub.add_parser("serve", help=serve_help, description=serve_text))
    s = msub.add_parser(
        "status",
        help="show the shared server: status, URL, pids, client pids, restarts, log",
        description="One line per shared llama-server recorded in the run folder "
        "(WORKBENCH_RUN_DIR, default ~/.cache/llmops-workbench/run): ready, starting, stopped, "
        "failed or dead; its URL, server and supervisor pids, the processes holding a lease, "
        "restarts and log file.",
    )
    s.set_defaults(fn=_model_status)
    s = msub.add_parser(
        "stop",
        help="stop the shared server and its supervisor (a client's next call restarts it)",
        description="Stop every shared llama-server and its supervisor. Processes still using it "
        "start it again, on the same port, at their next call.",
    )
    s.set_defaults(fn=_model_stop)

    s = sub.add_parser(
        "setup",
        help="obtain the model, build llama-server, fetch the embedding model and the toxicity classifier (once)",
    )
    s.set_defaults(fn=_setup)

    s = sub.add_parser("models", help="configured endpoints, their models, key presence and health")
    s.add_argument("--no-health", action="store_true", help="skip the health probes")
    s.set_defaults(fn=_models)

    s = sub.add_parser("doctor", help="check the set-up and print a fix for each problem")
    s.add_argument("--fix", action="store_true", help="obtain missing parts first (like `workbench setup`)")
    s.add_argument("--no-roundtrip", action="store_true", help="skip the chat round-trip with the local model")
    s.set_defaults(fn=_doctor)

    s = sub.add_parser("demo", help="the main job: the lifecycle on the embedded defaults")
    s.add_argument("--experiment", default="demo", help="MLflow experiment for the demo runs (default: demo)")
    s.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test of the whole lifecycle)")
    s.set_defaults(fn=_demo)

    s = _command(sub, "run", _run, help="run a notebook as one tracked MLflow run (papermill)")
    s.add_argument(
        "notebook", metavar="NOTEBOOK", help="the .ipynb to execute (its parameters cell is tagged 'parameters')"
    )
    s.add_argument(
        "-p",
        "--param",
        nargs=2,
        action="append",
        metavar=("NAME", "VALUE"),
        help="parameter override, typed from the notebook's parameters cell (repeatable)",
    )
    s.add_argument(
        "--kernel",
        metavar="NAME",
        help="Jupyter kernel to run it with (default: the notebook's own kernelspec; see `jupyter kernelspec list`)",
    )
    s.add_argument("-f", "--params-file", metavar="YAML", help="parameters from a YAML mapping")
    s.add_argument("--experiment", help="MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else workbench)")
    s.add_argument("--run-name", help="MLflow run name (default: the notebook's name)")
    s.add_argument("--timeout", type=float, help="per-cell timeout in seconds")
    s.add_argument("--output", help="where to write the executed notebook")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar (CI)")
    s.add_argument(
        "--allow-unknown-params",
        action="store_true",
        help="inject -p names the notebook does not declare (default: a usage error, exit 2)",
    )

    s = _command(sub, "sweep", _sweep, help="run a notebook over a parameter grid: a parent run + one child per cell")
    s.add_argument("notebook", metavar="NOTEBOOK", help="the .ipynb to run once per grid cell")
    s.add_argument("--grid", action="append", metavar="NAME=V1,V2", help="a swept parameter (repeatable)")
    s.add_argument("-f", "--params-file", metavar="YAML", help="YAML with `grid:` and/or `parameters:` mappings")
    s.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), help="fixed parameter")
    s.add_argument("--workers", type=int, default=1, help="parallel runs (default 1)")
    s.add_argument("--executor", default="local", help="local (process pool, default) or dask")
    s.add_argument("--scheduler", help="Dask scheduler address (with --executor dask)")
    s.add_argument("--max-runs", type=int, help="refuse grids larger than this")
    s.add_argument("--resume", action="store_true", help="skip cells that already FINISHED in the last same sweep")
    s.add_argument("--experiment", help="MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else workbench)")
    s.add_argument("--timeout", type=float, help="per-cell timeout in seconds")
    s.add_argument(
        "--allow-unknown-params",
        action="store_true",
        help="inject -p/--grid names the notebook does not declare (default: a usage error, exit 2)",
    )

    s = _command(sub, "eval", _eval, help="evaluate a model on a dataset (five metric families), logged to MLflow")
    s.add_argument(
        "--dataset",
        required=True,
        help="JSONL, CSV or Parquet file, or mlflow:NAME (an MLflow "
        "evaluation dataset, e.g. the rows `workbench.monitor.harvest` made from served traces)",
    )
    s.add_argument("--model", help="endpoint:model, alias, or endpoint name (e.g. local)")
    _model_id_arg(
        s,
        "instead of --model: the candidate configuration recorded as this MLflow LoggedModel (prompt or RAG, with "
        "all its settings)",
    )
    s.add_argument("--system-prompt", help="system prompt of the prompt-only candidate (default: none)")
    s.add_argument("--metrics", nargs="+", help="metric names or families (default: all offline metrics)")
    s.add_argument("--repeats", type=int, default=1, help="samples per row (default 1)")
    s.add_argument("--judge", help="judge model for LLM-judged metrics (endpoint:model)")
    s.add_argument("--experiment", help="MLflow experiment (default: workbench)")
    s.add_argument("--run-name", help="MLflow run name")
    s.add_argument("--dry-run", action="store_true", help="print the token/cost estimate and exit; no model calls")
    s.add_argument("--budget-usd", type=float, help="stop cleanly (resumable) once this much new spend is reached")
    s.add_argument("--concurrency", type=int, help="rows in flight (default: from the endpoint's limits)")
    s.add_argument("--cache", default="use", choices=["use", "refresh", "off"], help="response cache mode")
    s.add_argument("--max-tokens", type=int, default=256, help="max completion tokens per answer (default 256)")
    s.add_argument(
        "--trace",
        action="store_true",
        default=True,
        help="one MLflow trace per row with its metric assessments (the default)",
    )
    s.add_argument("--no-trace", dest="trace", action="store_false", help="record no row traces")

    s = _command(sub, "compare", _compare, help="paired comparison of two evaluation runs, with regression gates")
    s.add_argument("run_a", metavar="RUN_A", help="baseline MLflow run id")
    s.add_argument("run_b", metavar="RUN_B", help="candidate MLflow run id")
    s.add_argument(
        "--gate", action="append", metavar="EXPR", help="e.g. 'quality/f1/mean >= baseline - 0.02' (repeatable)"
    )
    s.add_argument("--metrics", nargs="+", help="only these row metrics")
    s.add_argument(
        "--allow-error-mismatch",
        action="store_true",
        help="let gates pass although the two runs' error rates differ by more than 2 points",
    )
    s.add_argument(
        "--allow-inconclusive",
        action="store_true",
        help="an inconclusive gate (too few rows to decide at its margin) does not fail the command",
    )

    ft = sub.add_parser(
        "finetune",
        help="prepare, validate, train (LoRA on CPU) and serve fine-tuned models",
        description="Fine-tuning: chat-format data, OpenAI-format validation with contamination "
        "checks, local LoRA training served as local:ft-<run>, adapters from past runs.",
    )
    fsub = ft.add_subparsers(dest="ft_command", metavar="STEP", required=True)
    s = fsub.add_parser("validate", help="check a chat fine-tuning JSONL file; print stats and the OpenAI cost")
    s.add_argument("file", metavar="FILE", help='chat-format JSONL: one {"messages": [...]} object per line')
    s.add_argument("--test-set", help="evaluation set (its test split) the training data must not contain")
    s.add_argument("--model", default="gpt-4o-mini", help="OpenAI base model for the cost estimate")
    s.add_argument("--epochs", type=int, default=3, help="epochs for the cost estimate (default 3)")
    s.set_defaults(fn=_ft_validate)
    s = fsub.add_parser("prepare", help="build train/val chat JSONL from a QA dataset and/or a corpus")
    s.add_argument("--from-qa", help="QA dataset (question + reference)")
    s.add_argument("--split", help="only rows of this split of the QA dataset (e.g. dev)")
    s.add_argument("--from-corpus", help="folder of Markdown manuals (one Q/A per '- Key: value' line)")
    s.add_argument("--phrasings", type=int, default=3, help="questions per fact (corpus)")
    s.add_argument("--exclude-test-set", help="drop examples matching this evaluation set's test split")
    s.add_argument("--val-fraction", type=float, default=0.1, help="share held out for validation (default 0.1)")
    s.add_argument("--seed", type=int, default=0, help="seed for phrasings and the split (default 0)")
    s.add_argument("--out", required=True, help="output folder (train.jsonl, val.jsonl)")
    s.set_defaults(fn=_ft_prepare)
    s = fsub.add_parser("train", help="LoRA fine-tune the embedded SmolLM2 on CPU ([finetune] extra)")
    s.add_argument("train", metavar="TRAIN", help="training JSONL (chat format, e.g. from `finetune prepare`)")
    s.add_argument("--val", metavar="VAL", help="validation JSONL; its loss is logged (default: none)")
    s.add_argument("--steps", type=int, help="optimizer steps (overrides --epochs)")
    s.add_argument("--epochs", type=float, default=3.0, help="passes over TRAIN when --steps is not given (default 3)")
    s.add_argument("--lr", type=float, default=2e-4, help="learning rate (2e-4 learns without forgetting)")
    s.add_argument("--r", type=int, default=16, help="LoRA rank (default 16)")
    s.add_argument("--alpha", type=int, default=32, help="LoRA alpha, the adapter's scale is alpha/r (default 32)")
    s.add_argument("--batch-size", type=int, default=8, help="examples per step (default 8)")
    s.add_argument("--seed", type=int, default=0, help="seed for the order and the init (default 0)")
    s.add_argument("--experiment", help="MLflow experiment (default: MLFLOW_EXPERIMENT_NAME, else workbench)")
    s.add_argument("--run-name", help="MLflow run name (default: finetune-local)")
    s.set_defaults(fn=_ft_train)
    s = fsub.add_parser("serve", help="register the adapter logged by a past run as local:ft-<run>")
    s.add_argument("run_id", metavar="RUN_ID", help="MLflow run that logged an adapter (`finetune train`, 03_finetune)")
    s.set_defaults(fn=_ft_serve)

    _tracking_commands(sub)

    app = sub.add_parser(
        "app",
        help="serve a chosen configuration as an OpenAI-compatible app endpoint",
        description="Serve a candidate (prompt template + optional RAG index + model) on "
        "/v1/chat/completions (plain and streaming); every request is traced into MLflow "
        "(experiment app-<name>) with PII redacted.",
    )
    asub = app.add_subparsers(dest="app_command", metavar="STEP", required=True)
    s = asub.add_parser(
        "serve",
        help="serve --config CONFIG.yaml or --from-run RUN_ID in the foreground",
        description="Serve an app config (YAML: name, model, system_prompt, template, rag, params, "
        "run_id) or a candidate of an evaluation run. Example client: openai.OpenAI(base_url="
        "'http://127.0.0.1:8000/v1', api_key='unused'). Authentication: set WORKBENCH_APP_KEY in "
        "the environment and every route but /health requires 'Authorization: Bearer <key>' "
        "(the client's api_key); without it the app is open to anyone who reaches the port, and "
        "binding beyond 127.0.0.1 prints a warning.",
    )
    s.add_argument("--config", metavar="CONFIG.yaml", help="app config file")
    s.add_argument("--from-run", metavar="RUN_ID", help="serve a candidate evaluated in this MLflow run")
    s.add_argument("--candidate", help="which candidate of --from-run (default: the recommended or only one)")
    _model_id_arg(
        s,
        "serve exactly this candidate configuration (an MLflow LoggedModel id from the Models tab; every evaluation "
        "records one per candidate)",
    )
    s.add_argument(
        "--alias",
        metavar="ALIAS",
        help="serve the LoggedModel that registered model --name's ALIAS "
        "names (set by `workbench promote`); the app is named after the registered model",
    )
    s.add_argument("--name", metavar="REGISTERED_MODEL", help="with --alias: the registered model (the app name)")
    s.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    s.add_argument(
        "--host",
        default="127.0.0.1",
        help="bind address (default 127.0.0.1: this machine only; beyond it, set WORKBENCH_APP_KEY)",
    )
    s.add_argument("--no-redact", action="store_true", help="store traces without PII redaction")
    s.set_defaults(fn=_app_serve)

    s = _command(
        sub, "promote", _promote, help="point a registered model's alias (production) at a candidate configuration"
    )
    s.add_argument("model_id", metavar="MODEL_ID", help="the LoggedModel (candidate configuration) to promote")
    s.add_argument("--name", required=True, metavar="REGISTERED_MODEL", help="registered model (the app name)")
    s.add_argument("--alias", default="production", help="alias to move (default production)")
    s.add_argument("--evidence", metavar="RUN_ID", help="the comparison run that justifies it (lineage tag)")
    s.add_argument("--experiment", help="MLflow experiment of the promote run (default: workbench)")

    s = _command(sub, "monitor", _monitor, help="evaluate alert rules on served traffic (once, or every N seconds)")
    s.add_argument(
        "--rules", required=True, metavar="RULES.yaml", help="alert rules (see notebooks/monitor_rules.yaml)"
    )
    s.add_argument("--experiment", help="traces' experiment (default: the rules file's 'experiment:')")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument(
        "--once", action="store_true", help="one check, then exit (the default); exit 1 while a critical rule is firing"
    )
    mode.add_argument("--every", metavar="DURATION", help="check repeatedly, e.g. 60s, until Ctrl-C")
    s.add_argument("--duration", metavar="DURATION", help="with --every: stop after this long")
    s.add_argument("--max-checks", type=int, help="with --every: stop after this many checks")

    for _, parser in subcommands(p):  # `workbench X --help` opens with a sentence, as the list shows it
        parser.description = parser.description or parser.help[:1].upper() + parser.help[1:] + "."
    return p


def subcommands(parser: argparse.ArgumentParser, prefix: str = ""):
    """("finetune train", parser) for every subcommand under ``parser``, depth first; each parser gets a
    ``help`` attribute with its one-line summary."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {c.dest: c.help for c in action._choices_actions}
            for name, sp in action.choices.items():
                sp.help = helps.get(name) or ""
                yield f"{prefix}{name}", sp
                yield from subcommands(sp, f"{prefix}{name} ")


class _FirstLineOnce:
    """Logging filter for MLflow's store and trace-export loggers: each message cut to its first line (no SQL, no
    traceback) and said once — a disk-full run used to print ~340 lines of them."""

    def __init__(self):
        self.seen: set[str] = set()

    def filter(self, record) -> bool:
        first = (record.getMessage().splitlines() or [""])[0][:300]
        record.msg, record.args, record.exc_info, record.exc_text = first, None, None, None
        if first in self.seen:
            return False
        self.seen.add(first)
        return True


NOISY_LOGGERS = (
    "mlflow.store.db.utils",
    "mlflow.tracing.export.mlflow_v3",
    "mlflow.tracing.export.async_export_queue",
    "mlflow.tracking._tracking_service.client",
)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0
    import logging

    from .secrets import scrub

    # MLflow logs every failed store write and trace export with its SQL and traceback (a disk-full run printed
    # ~340 lines); each is said once, in one line, and the error that ends the command is printed below
    once = _FirstLineOnce()
    for name in NOISY_LOGGERS:
        logging.getLogger(name).addFilter(once)
    renamed = getattr(args, "renamed", None)
    if renamed:  # an old spelling: it still works, for a release
        print(
            f"note: `workbench {renamed[0]}` is now `workbench {renamed[1]}`; the old spelling will be removed",
            file=sys.stderr,
        )
    try:
        return int(args.fn(args) or EXIT_OK)
    except WorkbenchError as e:  # each error class carries its exit code (workbench/errors.py)
        print(f"{e.label}: {scrub(str(e))}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as e:  # noqa: BLE001 - the text printed to the terminal is scrubbed of secrets
        import traceback

        from .config import find_project_dir
        from .errors import is_disk_full

        if is_disk_full(e):
            first = (str(e).splitlines() or [type(e).__name__])[0][:200]
            print(
                f"error: disk full ({scrub(first)}): free space in {find_project_dir()} and re-run; "
                f"a run that was open is marked FAILED, or KILLED by the next start",
                file=sys.stderr,
            )
            return EXIT_FAILED
        print(scrub(traceback.format_exc()), file=sys.stderr, end="")
        return EXIT_FAILED
