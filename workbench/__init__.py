"""LLMOps Workbench: explore, augment, evaluate and operationalize LLM applications from Jupyter.

import workbench as wb
r = wb.chat("What is a tent footprint?", model="local")
print(r.text, r.latency_s, r.ttft_s, r.cost_usd)
"""

from .errors import ConfigError, DatasetError, SetupError, WorkbenchError

__all__ = [
    "ChatRecord",
    "ConfigError",
    "DatasetError",
    "LLMClient",
    "SetupError",
    "WorkbenchError",
    "EvalResult",
    "PromptCandidate",
    "RunResult",
    "SweepResult",
    "calibrate",
    "compare",
    "evaluate",
    "load_dataset",
    "chat",
    "plan",
    "chat_many",
    "embed",
    "run_notebook",
    "sweep",
    "tracking",
    "tracing",
    "monitor",
    "serve",
    "governance",
    "finetune",
    "demo",
    "rag",
    "load_settings",
    "settings",
    "__version__",
]


_LAZY = {
    "load_settings": ("workbench.config", "load_settings"),
    "settings": ("workbench.config", "settings"),
    "ChatRecord": ("workbench.llm.client", "ChatRecord"),
    "LLMClient": ("workbench.llm.client", "LLMClient"),
    "chat": ("workbench.llm.client", "chat"),
    "chat_many": ("workbench.llm.client", "chat_many"),
    "embed": ("workbench.llm.embeddings", "embed"),
    "evaluate": ("workbench.evaluate", None),
    "compare": ("workbench.evaluate", "compare"),
    "plan": ("workbench.evaluate.plan", "plan"),
    "calibrate": ("workbench.evaluate.calibrate", "calibrate"),
    "load_dataset": ("workbench.data", "load_dataset"),
    "candidates": ("workbench.candidates", None),
    "PromptCandidate": ("workbench.candidates", "PromptCandidate"),
    "EvalResult": ("workbench.evaluate", "EvalResult"),
    "tracking": ("workbench.tracking", None),
    "run_notebook": ("workbench.runs", "run_notebook"),
    "sweep": ("workbench.runs", "sweep"),
    "RunResult": ("workbench.runs", "RunResult"),
    "SweepResult": ("workbench.runs", "SweepResult"),
    "tracing": ("workbench.tracing", None),
    "monitor": ("workbench.monitor", None),
    "serve": ("workbench.serve", None),
    "governance": ("workbench.governance", None),
    "finetune": ("workbench.finetune", None),
    "demo": ("workbench.demo", None),
    "rag": ("workbench.rag", None),
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmops-workbench")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0+src"


def __getattr__(name: str):
    """Everything but the errors loads on first use (the openai client, MLflow, papermill), so
    `import workbench` and `workbench --help` stay fast; the loaded value is then cached in the module."""
    if name == "__version__":
        globals()[name] = version = _version()
        return version
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        if module == "workbench.llm.client":  # the client's call hook: traced calls when tracing is on
            importlib.import_module("workbench.tracing")
        value = mod if attr is None else getattr(mod, attr)
        if attr is not None:  # a submodule (evaluate, tracking...) binds itself on import
            globals()[name] = value
        return value
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
