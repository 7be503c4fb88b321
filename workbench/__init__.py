"""LLMOps Workbench: explore, augment, evaluate and operationalize LLM applications from Jupyter.

    import workbench as wb
    r = wb.chat("What is a tent footprint?", model="local")
    print(r.text, r.latency_s, r.ttft_s, r.cost_usd)
"""

from importlib.metadata import PackageNotFoundError, version

from .config import load_settings, settings
from .errors import ConfigError, DatasetError, SetupError, WorkbenchError
from .llm.client import ChatRecord, LLMClient, chat, chat_many
from .llm.embeddings import embed
from . import tracing as _tracing  # noqa: F401 - installs the client's call hook (traced calls when tracing is on)

try:
    __version__ = version("llmops-workbench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = [
    "ChatRecord", "ConfigError", "DatasetError", "LLMClient", "SetupError", "WorkbenchError",
    "EvalResult", "PromptCandidate", "RunResult", "SweepResult", "compare", "evaluate", "load_dataset", "chat", "chat_many", "embed", "run_notebook", "sweep", "tracking", "tracing", "monitor", "serve", "governance", "finetune", "demo", "rag", "load_settings", "settings", "__version__",
]


_LAZY = {"evaluate": ("workbench.evaluate", None), "compare": ("workbench.evaluate", "compare"),
         "load_dataset": ("workbench.data", "load_dataset"), "candidates": ("workbench.candidates", None),
         "PromptCandidate": ("workbench.candidates", "PromptCandidate"), "EvalResult": ("workbench.evaluate", "EvalResult"),
         "tracking": ("workbench.tracking", None), "run_notebook": ("workbench.runs", "run_notebook"),
         "sweep": ("workbench.runs", "sweep"), "RunResult": ("workbench.runs", "RunResult"),
         "SweepResult": ("workbench.runs", "SweepResult"), "tracing": ("workbench.tracing", None),
         "monitor": ("workbench.monitor", None), "serve": ("workbench.serve", None),
         "governance": ("workbench.governance", None), "finetune": ("workbench.finetune", None),
         "demo": ("workbench.demo", None), "rag": ("workbench.rag", None)}


def __getattr__(name: str):
    """Heavy parts (MLflow, papermill) load on first use, so `import workbench` and the CLI stay fast."""
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        mod = importlib.import_module(module)
        return mod if attr is None else getattr(mod, attr)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
