"""Serve a chosen configuration (prompt template + optional RAG index + model) as an OpenAI-compatible app.

    workbench app serve --config app.yaml [--port 8000]
    workbench app serve --from-run RUN_ID [--candidate NAME]
    workbench app serve --model-id MODEL_ID
    workbench app serve --alias production --name NAME      (after `workbench promote MODEL_ID --name NAME`)

Whatever the source, the app answers through the candidate's own ``aanswer`` (rebuilt from its configuration by
``workbench.candidates.from_config``): the same prompt, retrieval (rerank, query rewrite, fetch_k), model and
generation params that were evaluated.

Any ``openai`` client can then call ``POST /v1/chat/completions`` on ``http://127.0.0.1:PORT/v1`` (plain or
``stream=True``). The last user message is the question; the configured template (and, for RAG, the
retrieved chunks) build the prompt, earlier turns are kept as history. ``GET /health`` and ``GET /v1/models``
answer too.

Every request is an MLflow trace in the experiment ``app-<name>``: a ``CHAIN`` root span, a ``RETRIEVER``
span (RAG), and the model call's ``CHAT_MODEL`` span with token usage; the trace carries the config's run id
(``workbench.config_run_id``) as lineage and tags with latency, TTFT, tokens, cost and error class, which
:mod:`workbench.monitor` reads. PII is redacted before traces are stored (``redact_pii: true``, the default).

Bad requests get an OpenAI-style JSON error with a 4xx status: invalid JSON (400), a body over
``max_body_bytes`` (413), a body not received within ``body_timeout_s`` (408), unknown path (404).
The HTTP server is uvicorn on Starlette (both already MLflow dependencies), bound to 127.0.0.1 by default.

Config file (YAML)::

    name: contoso-rag            # required: app and experiment name
    model: local                 # any model spec of the workspace
    system_prompt: "You are ..." # optional; null for none (default: the candidate's own)
    template: "... {contexts} ... {question}"   # optional; {question} required when given
    rag: {index: path/to/index, retriever: hybrid, top_k: 4}   # optional; also mmr, fetch_k, rerank, query_rewrite
    params: {temperature: 0.0, max_tokens: 256}
    run_id: <the run this configuration was chosen in>          # lineage (optional)
"""

from .app import ServedApp
from .config import AppConfig, aliased_model_id, config_from_alias, config_from_model, config_from_run, load_config
from .http import AppHandle, create_app, serve, start, validate_request
from .promote import Challenge, Promotion, challenge, promote

__all__ = [
    "AppConfig",
    "AppHandle",
    "Challenge",
    "Promotion",
    "ServedApp",
    "aliased_model_id",
    "challenge",
    "config_from_alias",
    "config_from_model",
    "config_from_run",
    "create_app",
    "load_config",
    "promote",
    "serve",
    "start",
    "validate_request",
]
