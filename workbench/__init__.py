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


# what loads on first use: names from a module, and the subpackages themselves (``wb.rag``)
_LAZY_NAMES = {
    "workbench.config": "load_settings settings",
    "workbench.llm.client": "ChatRecord LLMClient chat chat_many",
    "workbench.llm.embeddings": "embed",
    "workbench.evaluate": "compare EvalResult",
    "workbench.evaluate.plan": "plan",
    "workbench.evaluate.calibrate": "calibrate",
    "workbench.data": "load_dataset",
    "workbench.candidates": "PromptCandidate",
    "workbench.runs": "run_notebook sweep RunResult SweepResult",
}
_LAZY_MODULES = "evaluate candidates tracking tracing monitor serve governance finetune demo rag"
_LAZY: dict[str, tuple[str, str | None]] = {
    **{name: (module, name) for module, names in _LAZY_NAMES.items() for name in names.split()},
    **{name: (f"workbench.{name}", None) for name in _LAZY_MODULES.split()},
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

        from .heap import importing

        module, attr = _LAZY[name]
        with importing():  # no collector passes over the modules being loaded (workbench.heap)
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
