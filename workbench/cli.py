"""The ``workbench`` command: a thin layer over the Python API (each subcommand calls one function)."""

from __future__ import annotations

import argparse
import sys

from .errors import WorkbenchError


def _serve(a) -> int:
    from .llm.local import ServerOptions, serve_foreground

    return serve_foreground(a.port, ServerOptions(parallel=a.parallel, ctx=a.ctx, lora=a.lora or []))


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
        print(f"{'ok  ' if c.ok else 'FAIL'} {c.name:<16} {c.detail}")
        if not c.ok:
            print(f"     fix: {c.fix}")
    bad = [c for c in checks if not c.ok]
    print(f"\n{len(checks) - len(bad)}/{len(checks)} checks passed")
    return 1 if bad else 0


def _demo(a) -> int:
    from .demo import run_demo

    figures = run_demo(model=a.model)
    return 0 if figures["errors"] == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="workbench", description="LLMOps Workbench: explore, augment, evaluate and "
                                "operationalize LLM applications — offline by default.")
    from . import __version__

    p.add_argument("--version", action="version", version=f"llmops-workbench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    s = sub.add_parser("serve", help="run the embedded model server (llama-server) in the foreground",
                       description="Serve SmolLM2-135M-Instruct with llama.cpp on 127.0.0.1 as an "
                       "OpenAI-compatible endpoint (/v1/chat/completions, streaming, /health).")
    s.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    s.add_argument("--parallel", type=int, default=4, help="concurrent slots, continuous batching (default 4)")
    s.add_argument("--ctx", type=int, default=8192, help="total context tokens shared by the slots (default 8192)")
    s.add_argument("--lora", action="append", metavar="PATH", help="GGUF LoRA adapter (repeatable)")
    s.set_defaults(fn=_serve)

    s = sub.add_parser("setup", help="obtain the model, build llama-server and fetch the embedding model (once)")
    s.set_defaults(fn=_setup)

    s = sub.add_parser("models", help="configured endpoints, their models, key presence and health")
    s.add_argument("--no-health", action="store_true", help="skip the health probes")
    s.set_defaults(fn=_models)

    s = sub.add_parser("doctor", help="check the set-up and print a fix for each problem")
    s.add_argument("--fix", action="store_true", help="obtain missing parts first (like `workbench setup`)")
    s.add_argument("--no-roundtrip", action="store_true", help="skip the chat round-trip with the local model")
    s.set_defaults(fn=_doctor)

    s = sub.add_parser("demo", help="the main job: the lifecycle on the embedded defaults")
    s.add_argument("--model", default="local", help="model to use (default: local)")
    s.set_defaults(fn=_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "fn", None):
        parser.print_help()
        return 0
    try:
        return int(args.fn(args) or 0)
    except WorkbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
