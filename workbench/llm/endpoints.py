"""Endpoint kinds: what an endpoint *does*, by kind, in one place.

:class:`~workbench.config.Endpoint` is pure data (``workbench.toml`` + environment); its ``kind`` names an
:class:`EndpointKind` registered here, which carries the behaviour callers need — the base URL (the ``local``
kind starts the embedded server), the ``openai`` client, per-request extras (LoRA scales), the cache identity,
the price, token counting, health, and the description shown by ``workbench models`` and the governance card.

Built in: ``openai``, ``azure``, ``openai_compatible`` (this file) and ``local`` (:mod:`workbench.llm.local`).
A new kind — say a gateway with its own auth header — is one new file::

    from workbench.llm.endpoints import EndpointKind, register_endpoint_kind

    class Gateway(EndpointKind):
        def client(self, ep, model):
            return openai.AsyncOpenAI(base_url=self.base_url(ep, model), api_key="unused", max_retries=0,
                                      default_headers={"X-Gateway-Key": ep.api_key()})

    register_endpoint_kind("gateway", Gateway())

registered by importing it, or declared as an entry point in the ``workbench.endpoint_kinds`` group (the way
papermill finds engines), then used as ``kind = "gateway"`` in ``workbench.toml``.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

import openai

from ..config import Endpoint, settings
from ..errors import ConfigError


@dataclass
class CallTarget:
    """Where one call goes, computed once per call: the base URL, the extra JSON body, the cache identity."""

    base_url: str
    extra_body: dict[str, Any] = field(default_factory=dict)


class EndpointKind:
    """Default behaviour: an OpenAI-compatible HTTP endpoint with a bearer key. Subclasses override what differs."""

    #: how a tool-using candidate asks this kind's models for tool calls: a protocol name registered in
    #: ``workbench.conversations.protocols`` ("tools": the OpenAI ``tools`` API; "json_schema": constrained decoding)
    tool_protocol = "tools"

    # -- where calls go
    def check(self, ep: Endpoint) -> None:
        """Raise :class:`ConfigError` when ``ep``'s data cannot work for this kind."""
        if not ep.base_url:
            raise ConfigError(
                f"endpoint '{ep.name}'{_where(ep)} has no base_url: set it in workbench.toml "
                f'(e.g. base_url = "http://127.0.0.1:8000/v1") or the environment'
            )

    def base_url(self, ep: Endpoint, model: str | None = None) -> str:
        self.check(ep)
        assert ep.base_url is not None  # check() refused an endpoint without one
        return ep.base_url

    def target(self, ep: Endpoint, model: str | None = None) -> CallTarget:
        """Base URL and extra request body for a call to ``model`` (computed once per call)."""
        return CallTarget(self.base_url(ep, model))

    def client(self, ep: Endpoint, base_url: str) -> openai.AsyncOpenAI:
        """An async ``openai`` client for ``base_url`` (no SDK retries: the workbench client retries)."""
        return openai.AsyncOpenAI(base_url=base_url, api_key=ep.api_key(), max_retries=0, timeout=ep.timeout_s)

    def sync_client(self, ep: Endpoint) -> openai.OpenAI:
        """A sync ``openai`` client (fine-tuning jobs, embeddings endpoints)."""
        return openai.OpenAI(base_url=self.base_url(ep), api_key=ep.api_key(), max_retries=3, timeout=ep.timeout_s)

    def identity(self, ep: Endpoint, model: str) -> str:
        """What determines the answers besides the request: the cache key includes it."""
        return ep.base_url or ep.name

    # -- money and tokens
    def price(self, ep: Endpoint, model: str) -> dict[str, float] | None:
        """USD per 1M tokens ``{"input", "output"}``, or None when unknown."""
        from .pricing import price_for

        return price_for(ep, model)

    def count_tokens(self, ep: Endpoint, model: str, text: str) -> tuple[int, str]:
        """``(count, accuracy)`` with accuracy exact|approx|rough."""
        from .pricing import count_tokens

        return count_tokens(text, model)

    # -- what `workbench models` and the governance card show
    def models(self, ep: Endpoint) -> list[str]:
        return list(ep.models)

    def describe(self, ep: Endpoint) -> str:
        """The endpoint's URL for people (``workbench models``, the card), its userinfo masked."""
        from ..secrets import mask_url

        return mask_url(ep.base_url) if ep.base_url else "default URL"

    def health(self, ep: Endpoint, timeout: float = 3.0) -> str:
        """ok | no key | no base_url | HTTP nnn | unreachable: ... — never sends a request without a key."""
        if not ep.has_key():
            return "no key"
        if not ep.base_url:
            return "no base_url"
        import httpx

        try:
            r = httpx.get(ep.base_url.rstrip("/") + "/models", timeout=timeout, headers=self.auth_headers(ep))
            return "ok" if r.status_code < 400 else f"HTTP {r.status_code}"
        except httpx.HTTPError as e:
            return f"unreachable: {type(e).__name__}"

    def auth_headers(self, ep: Endpoint) -> dict[str, str]:
        return {"Authorization": f"Bearer {ep.api_key()}"}

    def recover(self, ep: Endpoint, model: str | None, target: CallTarget) -> CallTarget | None:
        """After a lost connection, before the retry: where the call goes now, or None when nothing changed. By
        default a URL that names a server this machine manages (the embedded llama-server, by its port) brings
        that server back; the ``local`` kind also re-resolves its own server."""
        _load()  # the revivers register with their kinds
        return target if any(revive(target.base_url) for revive in URL_REVIVERS) else None


#: functions ``f(base_url) -> bool`` that bring back a managed server named by that URL (``llm/local`` adds one)
URL_REVIVERS: list = []


def register_url_reviver(fn) -> None:
    """Add ``fn(base_url) -> bool``: True when ``base_url`` names a server it manages and it runs again."""
    if fn not in URL_REVIVERS:
        URL_REVIVERS.append(fn)


class OpenAIKind(EndpointKind):
    """api.openai.com (or ``OPENAI_BASE_URL``), key ``OPENAI_API_KEY``."""


class CompatibleKind(EndpointKind):
    """Any OpenAI-compatible server declared in ``workbench.toml`` (vLLM, Ollama, a gateway...)."""


class AzureKind(EndpointKind):
    """Azure OpenAI: ``AZURE_OPENAI_ENDPOINT``, ``AZURE_OPENAI_API_KEY``, ``OPENAI_API_VERSION``."""

    def client(self, ep: Endpoint, base_url: str) -> openai.AsyncOpenAI:
        if not ep.api_version:
            raise ConfigError("endpoint 'azure' needs OPENAI_API_VERSION (e.g. export OPENAI_API_VERSION=2024-10-21)")
        return openai.AsyncAzureOpenAI(
            azure_endpoint=base_url,
            api_version=ep.api_version,
            api_key=ep.api_key(),
            max_retries=0,
            timeout=ep.timeout_s,
        )

    def auth_headers(self, ep: Endpoint) -> dict[str, str]:
        return {"api-key": ep.api_key()}


ENDPOINT_KINDS: dict[str, EndpointKind] = {}
_BUILTIN_MODULES = ("workbench.llm.local",)  # kinds that live in their own module register on import
_loaded = False


def register_endpoint_kind(name: str, kind: EndpointKind) -> EndpointKind:
    """Register ``kind`` under ``name`` (``kind = "name"`` in ``workbench.toml``)."""
    ENDPOINT_KINDS[name] = kind
    return kind


def _load() -> None:
    global _loaded
    if _loaded:
        return
    _loaded = True
    for mod in _BUILTIN_MODULES:
        importlib.import_module(mod)
    from importlib.metadata import entry_points

    for ep in entry_points(group="workbench.endpoint_kinds"):
        try:
            ep.load()
        except Exception as e:  # noqa: BLE001 - a broken plugin must not break the built-in kinds
            import warnings

            warnings.warn(f"endpoint kind plugin {ep.name!r} failed to load: {type(e).__name__}: {e}", stacklevel=2)


def kind_of(ep: Endpoint) -> EndpointKind:
    """The registered kind of ``ep``; a clear error naming the endpoint (and its file) when unknown."""
    _load()
    kind = ENDPOINT_KINDS.get(ep.kind)
    if kind is None:
        raise ConfigError(
            f"endpoint '{ep.name}'{_where(ep)}: kind '{ep.kind}' unknown; one of {sorted(ENDPOINT_KINDS)}"
        )
    return kind


def resolve(spec: str) -> tuple[Endpoint, str, EndpointKind]:
    """``endpoint:model`` | alias → (endpoint, model, kind)."""
    ep, model = settings().resolve_model(spec)
    return ep, model, kind_of(ep)


def _where(ep: Endpoint) -> str:
    return f" ({ep.source})" if getattr(ep, "source", None) else ""


register_endpoint_kind("openai", OpenAIKind())
register_endpoint_kind("azure", AzureKind())
register_endpoint_kind("openai_compatible", CompatibleKind())
