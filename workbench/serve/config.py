"""A served app's configuration: ``AppConfig`` from YAML or from an evaluation run's candidate."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal, overload

from .. import tags as T
from ..errors import ConfigError

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
ROLES = {"system", "user", "assistant", "tool", "developer"}
RAG_SETTINGS = ("retriever", "top_k", "mmr", "fetch_k", "rerank", "query_rewrite")  # as RAGPipeline takes them
PARAM_LIMITS = {
    "temperature": (float, 0.0, 2.0),
    "top_p": (float, 0.0, 1.0),
    "max_tokens": (int, 1, 4096),
    "max_completion_tokens": (int, 1, 4096),
    "seed": (int, -(2**31), 2**31 - 1),
}


@dataclass
class AppConfig:
    """What an app serves. ``params`` are generation defaults; requests may override those in ``PARAM_LIMITS``."""

    name: str
    model: str = "local"
    system_prompt: str | None = "default"  # "default": the candidate's own; null: no system prompt
    template: str | None = None
    rag: dict | None = None
    # the whole candidate configuration (a LoggedModel's params): when set, the app serves exactly this candidate
    # (workbench.candidates.from_config) and model/system_prompt/template/rag only describe it
    candidate: dict | None = None
    params: dict = field(default_factory=lambda: {"temperature": 0.0, "max_tokens": 256})
    run_id: str | None = None
    model_id: str | None = None  # the LoggedModel (candidate configuration) served: traces link to it
    experiment: str | None = None
    redact_pii: bool = True
    trace: bool = True  # an MLflow trace per request (what monitoring reads)
    cache: str = "off"
    max_body_bytes: int = 64 * 1024
    body_timeout_s: float = 10.0
    request_timeout_s: float = 120.0
    max_retries: int = 2  # an app fails fast rather than keep its caller waiting
    max_messages: int = 64
    max_concurrent: int = 64  # requests in progress (idle connections do not count); /health is never refused
    header_timeout_s: float = 10.0  # a connection that has not sent a whole request head by then is closed
    # Host headers answered besides localhost's (DNS rebinding: a web page must not reach the app through a name
    # it controls): the names a reverse proxy forwards when serving beyond this machine. "*" allows any.
    allowed_hosts: list[str] = field(default_factory=list)
    # values an answer must never repeat ({canaries: [...], system_prompt: true}) and what the output guard does
    # then: block (the default when something is confidential) | redact | off — see workbench.serve.guard
    confidential: dict | None = None
    output_guard: str | None = None
    source: str = ""  # where the config came from (file or run), for messages

    @property
    def hosts(self) -> list[str]:
        """Every Host header the app answers: localhost's names, then ``allowed_hosts``."""
        return [*LOCAL_HOSTS, *self.allowed_hosts]

    @property
    def experiment_name(self) -> str:
        return self.experiment or f"app-{self.name}"

    def candidate_config(self) -> dict:
        """The configuration of the candidate this app serves (``candidates.from_config`` rebuilds it): the
        recorded ``candidate`` if any, else one made from model, system_prompt, template and rag; ``params`` on
        top (generation defaults)."""
        if self.candidate:
            return {**self.candidate, **self.params}
        c: dict[str, Any] = {"kind": "rag" if self.rag else "prompt", "model": self.model}
        if self.rag:
            r = dict(self.rag)
            c["index_path"] = r.pop("index")
            template = self.template or r.pop("prompt", None)
            c.update(r)
            if template:
                c["prompt"] = template
        elif self.template:
            c["template"] = self.template
        if self.system_prompt != "default":  # "default": the candidate kind's own
            c["system_prompt"] = self.system_prompt
        return {**c, **self.params}


def _check_config(raw: Any, source: str) -> AppConfig:
    if not isinstance(raw, dict):
        raise ConfigError(
            f"{source}: expected a mapping of settings (name, model, template, rag, params), found {type(raw).__name__}"
        )
    known = {f.name for f in fields(AppConfig)} - {"source"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {unknown}; expected some of {sorted(known)}")
    if not isinstance(raw.get("name"), str) or not raw["name"].strip():
        raise ConfigError(f"{source}: 'name' is required (a short app name, e.g. contoso-rag)")
    tmpl = raw.get("template")
    if tmpl is not None and (not isinstance(tmpl, str) or "{question}" not in tmpl):
        raise ConfigError(f"{source}: 'template' must be a string containing {{question}}")
    rag = raw.get("rag")
    if rag is not None and (not isinstance(rag, dict) or not rag.get("index")):
        raise ConfigError(f"{source}: 'rag' must be a mapping with at least 'index: PATH'")
    if rag is not None:
        extra = sorted(set(rag) - {"index", *RAG_SETTINGS, "prompt", "system_prompt"})
        if extra:
            raise ConfigError(f"{source}: unknown rag setting(s) {extra}")
    cand = raw.get("candidate")
    if cand is not None and (not isinstance(cand, dict) or not cand.get("kind")):
        raise ConfigError(f"{source}: 'candidate' must be a candidate configuration (a mapping with 'kind')")
    if not isinstance(raw.get("params", {}), dict):
        raise ConfigError(f"{source}: 'params' must be a mapping (e.g. {{temperature: 0, max_tokens: 256}})")
    hosts = raw.get("allowed_hosts") or []
    if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) and h for h in hosts):
        raise ConfigError(f"{source}: 'allowed_hosts' must be a list of host names (e.g. [app.example.com])")
    conf = raw.get("confidential")
    if conf is not None and (
        not isinstance(conf, dict)
        or set(conf) - {"canaries", "system_prompt"}
        or not isinstance(conf.get("canaries", []), list)
    ):
        raise ConfigError(
            f"{source}: 'confidential' must be a mapping with 'canaries' (a list of strings) and/or "
            f"'system_prompt' (true/false)"
        )
    from .guard import GUARD_ACTIONS

    if raw.get("output_guard") not in (None, *GUARD_ACTIONS):
        raise ConfigError(f"{source}: 'output_guard' must be one of {list(GUARD_ACTIONS)}")
    cfg = AppConfig(**raw)
    cfg.allowed_hosts = [h.lower() for h in hosts]
    cfg.params = {"temperature": 0.0, "max_tokens": 256, **(raw.get("params") or {})}
    cfg.source = source
    return cfg


def load_config(path: str | Path) -> AppConfig:
    """Read an app config YAML; errors name the file (and line for YAML syntax) and what was expected."""
    from ..config import read_yaml

    path = Path(path)
    raw = read_yaml(path, "app config")
    cfg = _check_config(raw, str(path))
    if cfg.rag and not Path(cfg.rag["index"]).is_absolute():
        cfg.rag["index"] = str((path.parent / cfg.rag["index"]).resolve())
    return cfg


def recommended_candidate(tags: dict, run_id: str) -> str | None:
    """The candidate a run recommends, only when the data support it (``workbench.recommendation_supported``);
    refuses (ConfigError) a run whose comparison supports no candidate, or that predates the check."""
    supported = tags.get(T.RECOMMENDATION_SUPPORTED)
    if supported == "true":
        return tags.get(T.RECOMMENDED)
    if supported is not None or T.RECOMMENDED in tags:
        raise ConfigError(
            f"run {run_id}: its comparison supports no candidate over the baseline"
            + (
                f" (it named {tags[T.RECOMMENDED]!r} without a supported difference)"
                if T.RECOMMENDED in tags and supported != "false"
                else ""
            )
            + "; pass --candidate NAME to serve one anyway"
        )
    return None


def config_from_run(run_id: str, candidate: str | None = None) -> AppConfig:
    """The app config of a candidate evaluated in run ``run_id`` (from its ``candidate.<name>.*`` params).

    With several candidates in the run, ``candidate`` picks one; if not given, the run's recommendation tag
    (``workbench.recommended``) decides, else the error lists the names.
    """
    from .. import tracking
    from ..candidates import parse_param

    run = tracking.client().get_run(run_id)
    by_cand: dict[str, dict] = {}
    for k, v in run.data.params.items():
        if k.startswith("candidate."):
            name, _, key = k[len("candidate.") :].partition(".")
            by_cand.setdefault(name, {})[key] = parse_param(v)
    if not by_cand:
        raise ConfigError(f"run {run_id} has no candidate.* params: pass an evaluation run, or use --config")
    candidate = candidate or recommended_candidate(run.data.tags, run_id)
    if candidate is None and len(by_cand) == 1:
        candidate = next(iter(by_cand))
    if candidate not in by_cand:
        raise ConfigError(f"run {run_id}: choose one of the candidates {sorted(by_cand)} with --candidate")
    return _from_candidate(by_cand[candidate], candidate, f"run {run_id}", run_id=run_id)


def config_from_model(model_id: str) -> AppConfig:
    """The app config of the candidate configuration recorded as LoggedModel ``model_id`` (its params are the
    candidate's configuration, written by the evaluation): serves exactly that version; its traces link to it."""
    from ..evaluate.record import candidate_name, logged_candidate

    model, params = logged_candidate(model_id)
    return _from_candidate(
        params, candidate_name(model), f"logged model {model_id}", run_id=model.source_run_id, model_id=model_id
    )


DEFAULT_ALIAS = "production"
MODEL_ID_TAG = "workbench.model_id"  # on a registered model version: the LoggedModel it is


def version_model_id(version) -> str | None:
    """The LoggedModel id of a registered model version (its tag, else its ``models:/<id>`` source)."""
    tagged = (version.tags or {}).get(MODEL_ID_TAG)
    source = version.source or ""
    return tagged or (source[len("models:/") :] if source.startswith("models:/m-") else None)


@overload
def aliased_model_id(registered_model: str, alias: str = ..., missing_ok: Literal[False] = ...) -> str: ...
@overload
def aliased_model_id(registered_model: str, alias: str = ..., missing_ok: bool = ...) -> str | None: ...
def aliased_model_id(registered_model: str, alias: str = DEFAULT_ALIAS, missing_ok: bool = False) -> str | None:
    """The LoggedModel id that ``registered_model@alias`` names (None when unset and ``missing_ok``)."""
    from .. import tracking

    tracking.configure()
    try:
        version = tracking.client().get_model_version_by_alias(registered_model, alias)
    except Exception as e:  # noqa: BLE001 - MLflow raises MlflowException for an unknown name or alias
        if missing_ok:
            return None
        raise ConfigError(
            f"no model version {registered_model}@{alias} in {tracking.tracking_uri()}: promote one "
            f"with `workbench promote MODEL_ID --name {registered_model} --alias {alias}` "
            f"({type(e).__name__})"
        ) from None
    mid = version_model_id(version)
    if mid is None:
        raise ConfigError(
            f"{registered_model}@{alias} (version {version.version}) is not a workbench candidate "
            f"configuration (source {version.source})"
        )
    return mid


def config_from_alias(registered_model: str, alias: str = DEFAULT_ALIAS) -> AppConfig:
    """The app config of the LoggedModel that ``registered_model@alias`` names (``workbench promote`` sets it).
    The app is named after the registered model, so its traces stay in ``app-<registered_model>`` across
    promotions while each trace links to the LoggedModel that answered it."""
    cfg = config_from_model(aliased_model_id(registered_model, alias))
    cfg.name, cfg.source = registered_model, f"{registered_model}@{alias} ({cfg.source})"
    return cfg


def _from_candidate(
    c: dict, name: str, source: str, run_id: str | None = None, model_id: str | None = None
) -> AppConfig:
    """An AppConfig from a candidate's configuration (``Candidate.config``, as params)."""
    gen = {k: c[k] for k in ("temperature", "max_tokens", "top_p", "seed") if k in c}
    raw: dict[str, Any] = {
        "name": name,
        "model": c.get("model", "local"),
        "params": gen,
        "run_id": run_id,
        "model_id": model_id,
        "candidate": dict(c),
    }
    if "system_prompt" in c:  # None (no system prompt) stays None: serve what was evaluated
        raw["system_prompt"] = c["system_prompt"]
    if c.get("kind") == "rag":
        if not c.get("index_path"):
            raise ConfigError(f"{source}: candidate {name!r} has no index_path param (re-run the evaluation)")
        raw["rag"] = {"index": c["index_path"], **{k: c[k] for k in RAG_SETTINGS if c.get(k) is not None}}
        if c.get("prompt") not in (None, "default"):
            raw["template"] = c["prompt"]
    elif c.get("template") not in (None, "default"):
        raw["template"] = c["template"]
    return _check_config(raw, source)


# ------------------------------------------------------------------ request handling


def resolve_config(config: AppConfig | str | Path | dict) -> AppConfig:
    """An AppConfig from an AppConfig, a dict (checked) or a YAML path."""
    if isinstance(config, AppConfig):
        return config
    if isinstance(config, dict):
        return _check_config(dict(config), "app config")
    return load_config(config)
