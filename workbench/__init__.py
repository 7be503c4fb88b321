"""LLMOps Workbench: explore, augment, evaluate and operationalize LLM applications from Jupyter.

    import workbench as wb
    r = wb.chat("What is a tent footprint?", model="local")
    print(r.text, r.latency_s, r.ttft_s, r.cost_usd)
"""

from importlib.metadata import PackageNotFoundError, version

from .config import load_settings, settings
from .errors import ConfigError, DatasetError, EndpointError, SetupError, WorkbenchError
from .llm.client import ChatRecord, LLMClient, chat, chat_many
from .llm.embeddings import embed

try:
    __version__ = version("llmops-workbench")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0.0.0+src"

__all__ = [
    "ChatRecord", "ConfigError", "DatasetError", "EndpointError", "LLMClient", "SetupError", "WorkbenchError",
    "chat", "chat_many", "embed", "load_settings", "settings", "__version__",
]
