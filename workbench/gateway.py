"""MLflow's AI Gateway over the workbench's endpoints, so MLflow's own GenAI pages (Playground, the Assistant's
"MLflow AI Gateway" provider, judges that name ``gateway:/ENDPOINT``) answer from the local model, offline, with
no key.

MLflow 3.17 keeps gateway endpoints in the tracking store (a *secret* with the provider's credentials and its
``api_base``, a *model definition* naming the model, an *endpoint* serving it); the server answers them at
``/gateway/mlflow/v1/chat/completions`` (``model`` = the endpoint's name). :func:`configure_gateway` creates or
updates one endpoint per keyless workbench endpoint (the embedded ``local`` model and every ``workbench.toml``
endpoint without ``api_key_env``), named like it, provider ``openai`` (llama.cpp's server and vLLM speak its
API), ``api_base`` = where the workbench's own calls go, and the placeholder key ``not-needed`` (the provider needs
a value; the local server reads none). Endpoints with a key are left out: configuring them would copy the key from
the environment into the tracking database, which the workbench never does (add them in MLflow's *AI Gateway*
page yourself).

The server must allow a private ``http`` upstream (:data:`SERVER_ENV`: MLflow refuses non-public and non-HTTPS
``api_base`` values by default, an SSRF guard for shared servers). The embedded model server is held for the MLflow
server's process (a lease), so the address the gateway names stays up as long as the UI runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from .config import settings
from .errors import WorkbenchError

#: what ``mlflow server`` needs in its environment to call a model server on 127.0.0.1 over http
SERVER_ENV = {
    "MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS": "true",
    "MLFLOW_GATEWAY_API_BASE_ALLOWED_SCHEMES": "http,https",
}
#: the provider MLflow calls the workbench's OpenAI-compatible endpoints with
PROVIDER = "openai"
#: the key sent to a keyless endpoint (the provider needs one; llama-server ignores it). Not a secret.
PLACEHOLDER_KEY = "not-needed"
#: prefix of the secret and model-definition names the workbench owns in the gateway
PREFIX = "workbench-"


@dataclass
class GatewayEndpointStatus:
    """One workbench endpoint's gateway endpoint: its name, model and upstream URL, and what was done
    (``created`` | ``updated`` | ``unchanged`` | ``skipped: <why>``)."""

    name: str
    model: str | None
    upstream: str | None
    status: str


@dataclass
class GatewayReport:
    """What :func:`configure_gateway` did, per workbench endpoint."""

    tracking_url: str
    endpoints: list[GatewayEndpointStatus] = field(default_factory=list)

    @property
    def served(self) -> list[str]:
        """Names of the gateway endpoints that now answer (created, updated or unchanged)."""
        return [e.name for e in self.endpoints if not e.status.startswith("skipped")]

    def summary(self) -> pd.DataFrame:
        """One row per workbench endpoint: name, model, upstream, status."""
        return pd.DataFrame([vars(e) for e in self.endpoints], columns=["name", "model", "upstream", "status"])

    def lines(self) -> list[str]:
        """What ``workbench tracking ui`` prints."""
        return [
            f"AI Gateway endpoint {e.name}: {e.model} at {e.upstream} ({e.status})"
            if not e.status.startswith("skipped")
            else f"AI Gateway endpoint {e.name}: {e.status}"
            for e in self.endpoints
        ]


def gateway_store(tracking_url: str):
    """MLflow's REST store of the running server (MLflow's own Assistant reaches the gateway the same way)."""
    from mlflow.tracking._tracking_service.utils import _get_store

    return _get_store(tracking_url)


def _named(items, attr: str, name: str):
    """The item whose ``attr`` is ``name`` (the REST store looks secrets up by id only), or None."""
    return next((x for x in items if getattr(x, attr) == name), None)


def upsert_endpoint(store, name: str, model: str, api_base: str) -> str:
    """Create or update the gateway endpoint ``name`` serving ``model`` from ``api_base``; returns created |
    updated | unchanged. The secret and model definition are ``workbench-<name>``."""
    from mlflow.entities.gateway_endpoint import GatewayEndpointModelConfig, GatewayModelLinkageType

    owned = PREFIX + name
    status = "unchanged"
    secret = _named(store.list_secret_infos(), "secret_name", owned)
    if secret is None:
        secret = store.create_gateway_secret(
            secret_name=owned,
            secret_value={"api_key": PLACEHOLDER_KEY},
            provider=PROVIDER,
            auth_config={"api_base": api_base},
        )
        status = "created"
    elif (secret.auth_config or {}).get("api_base") != api_base:
        store.update_gateway_secret(secret.secret_id, auth_config={"api_base": api_base})
        status = "updated"
    md = _named(store.list_gateway_model_definitions(), "name", owned)
    if md is None:
        md = store.create_gateway_model_definition(
            name=owned, secret_id=secret.secret_id, provider=PROVIDER, model_name=model
        )
        status = "created"
    elif md.model_name != model or md.secret_id != secret.secret_id or md.provider != PROVIDER:
        store.update_gateway_model_definition(
            md.model_definition_id, secret_id=secret.secret_id, model_name=model, provider=PROVIDER
        )
        status = status if status == "created" else "updated"
    config = GatewayEndpointModelConfig(
        model_definition_id=md.model_definition_id, linkage_type=GatewayModelLinkageType.PRIMARY
    )
    ep = _named(store.list_gateway_endpoints(), "name", name)
    if ep is None:
        store.create_gateway_endpoint(name=name, model_configs=[config])
        return "created"
    if [m.model_definition_id for m in ep.model_mappings] != [md.model_definition_id]:
        store.update_gateway_endpoint(ep.endpoint_id, model_configs=[config])
        status = status if status == "created" else "updated"
    return status


def configure_gateway(tracking_url: str, hold_for: int | None = None) -> GatewayReport:
    """One MLflow AI Gateway endpoint per keyless workbench endpoint, on the MLflow server at ``tracking_url``
    (started with :data:`SERVER_ENV`). ``hold_for``: the MLflow server's pid; the embedded model server is kept
    running for it (a lease) so the gateway's upstream stays up while the UI runs. Never raises for one endpoint:
    its row says why it was skipped."""
    from .llm.endpoints import kind_of
    from .llm.local import hold_url

    report = GatewayReport(tracking_url)
    store = gateway_store(tracking_url)
    for name, ep in sorted(settings().endpoints.items()):
        model = ep.default_model or (ep.models[0] if ep.models else None)
        if ep.api_key_env is not None:
            why = f"skipped: needs the key in {ep.api_key_env}, which the workbench never copies into MLflow"
            report.endpoints.append(GatewayEndpointStatus(name, model, None, why))
            continue
        if model is None:
            report.endpoints.append(GatewayEndpointStatus(name, None, None, "skipped: no model named"))
            continue
        try:
            api_base = kind_of(ep).target(ep, model).base_url
            if hold_for is not None:
                hold_url(api_base, hold_for)
            status = upsert_endpoint(store, name, model, api_base)
        except (WorkbenchError, OSError) as e:
            report.endpoints.append(GatewayEndpointStatus(name, model, None, f"skipped: {e}"))
            continue
        except Exception as e:  # noqa: BLE001 - an MLflow refusal: say it, the UI still runs
            report.endpoints.append(GatewayEndpointStatus(name, model, None, f"skipped: {type(e).__name__}: {e}"))
            continue
        report.endpoints.append(GatewayEndpointStatus(name, model, api_base, status))
    return report
