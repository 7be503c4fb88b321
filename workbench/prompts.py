"""Prompt templates: ``str.format`` style (``{question}``), run as a prompt × model grid, and kept in the
MLflow prompt registry (versions + aliases; the registry's own syntax is ``{{question}}``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

import pandas as pd

from .errors import WorkbenchError
from .llm.client import chat_many

_VAR = re.compile(r"(?<!\{)\{([A-Za-z_][A-Za-z0-9_]*)\}(?!\})")


def variables(template: str) -> list[str]:
    return list(dict.fromkeys(_VAR.findall(template)))


def render(template: str, values: dict) -> str:
    missing = [v for v in variables(template) if v not in values]
    if missing:
        raise WorkbenchError(f"template needs {missing}; got {sorted(values)}")
    return _VAR.sub(lambda m: str(values[m.group(1)]), template)


def to_registry_syntax(template: str) -> str:
    return _VAR.sub(lambda m: "{{" + m.group(1) + "}}", template)


def from_registry_syntax(template: str) -> str:
    return re.sub(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}", r"{\1}", template)


def run_grid(
    templates: Iterable[str],
    models: Iterable[str],
    rows: Iterable[dict],
    system: str | None = None,
    cache: str = "use",
    progress: bool | None = None,
    **gen_params,
) -> pd.DataFrame:
    """Every template × model × row, concurrently; one line per call with output, tokens, latency, TTFT, cost."""
    templates, models, rows = list(templates), list(models), list(rows)
    prompts = [(ti, ri, render(t, r)) for ti, t in enumerate(templates) for ri, r in enumerate(rows)]
    out = []
    for model in models:
        recs = chat_many(
            [p for _, _, p in prompts], model=model, system=system, cache=cache, progress=progress, **gen_params
        )
        for (ti, ri, prompt), rec in zip(prompts, recs, strict=True):
            out.append(
                {
                    "template": ti,
                    "row": ri,
                    "model": model,
                    "prompt": prompt,
                    "output": rec.text,
                    **rec.measures(),
                    "error": rec.error,
                }
            )
    return pd.DataFrame(out)


def register(name: str, template: str, alias: str | None = "current", commit_message: str | None = None) -> int:
    """Save ``template`` as a new version of prompt ``name`` in the MLflow registry; returns the version."""
    import mlflow.genai

    from . import tracking

    tracking.configure()
    pv = mlflow.genai.register_prompt(name=name, template=to_registry_syntax(template), commit_message=commit_message)
    if alias:
        mlflow.genai.set_prompt_alias(name, alias, pv.version)
    return int(pv.version)


def load(name: str, version_or_alias: str | int = "current") -> str:
    """A registered template back in ``{var}`` syntax, by version number or alias.

    Read through ``MlflowClient`` on purpose: ``mlflow.genai.load_prompt`` also links the prompt to whatever
    fluent run is active, which fails when that run lives in another store."""
    from . import tracking

    c = tracking.client()
    if isinstance(version_or_alias, int) or str(version_or_alias).isdigit():
        pv = c.get_prompt_version(name, str(version_or_alias))
    else:
        pv = c.get_prompt_version_by_alias(name, str(version_or_alias))
    if os.environ.get(tracking.RUN_ENV):  # inside a tracked run: record which version it used (governance card)
        tracking.set_tags({f"workbench.prompt.{name}": pv.version}, os.environ[tracking.RUN_ENV])
    return from_registry_syntax(pv.template)
