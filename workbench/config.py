"""Settings: endpoints (built-ins + ``workbench.toml`` + environment), the cache dir, the tracking store.

A model is addressed as ``endpoint:model`` (``openai:gpt-4o-mini``), by an alias declared in
``[aliases]`` of ``workbench.toml``, or by an endpoint name alone, which means that endpoint's
default model (``local`` → the embedded SmolLM2).

``workbench.toml`` is looked up from the current directory upwards; the directory that holds it is the
*project* directory (the default MLflow store and response cache live there). Without one, the current
directory is the project. Example::

    [endpoints.vllm]
    base_url = "http://127.0.0.1:8000/v1"
    api_key_env = "VLLM_API_KEY"      # the *name* of the variable, never the key
    models = ["llama-3.1-8b"]
    max_concurrency = 16
    [endpoints.vllm.prices."llama-3.1-8b"]
    input = 0.05                      # USD per 1M input tokens
    output = 0.10

    [aliases]
    small = "local:smollm2"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError

LOCAL_MODEL = "smollm2"


def cache_dir() -> Path:
    """User-level cache for downloaded models and built binaries (``$XDG_CACHE_HOME/llmops-workbench``)."""
    override = os.environ.get("WORKBENCH_CACHE_DIR")
    if override:
        return Path(override).expanduser().resolve()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser().resolve() / "llmops-workbench"


def join_surrogate_pairs(obj: Any) -> Any:
    """``obj`` with every string's UTF-16 surrogate pairs joined into one character: PyYAML reads the escapes
    ``json.dumps`` writes for an emoji (``"\\ud83d\\ude80"``) as two lone surrogates. Lone ones stay (and are
    refused where a value must be stored)."""
    if isinstance(obj, str):
        if not any("\ud800" <= ch <= "\udfff" for ch in obj):
            return obj
        try:
            return obj.encode("utf-16", "surrogatepass").decode("utf-16")
        except UnicodeDecodeError:
            return obj
    if isinstance(obj, list):
        return [join_surrogate_pairs(v) for v in obj]
    if isinstance(obj, dict):
        return {join_surrogate_pairs(k): join_surrogate_pairs(v) for k, v in obj.items()}
    return obj


MAX_NESTING = 64  # levels of lists/mappings a dataset row, a JSON cell or a YAML file may nest


class NestingError(ValueError):
    """A document nests lists/mappings deeper than :data:`MAX_NESTING` (instead of a ``RecursionError``)."""


def nesting_depth(obj: Any, limit: int = MAX_NESTING) -> int:
    """How deep lists and dicts nest in ``obj`` (iterative, so any depth is safe; stops past ``limit``)."""
    deepest, stack = 0, [(obj, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list, tuple)):
            d += 1
            deepest = max(deepest, d)
            if d > limit:
                return d
            stack.extend((x, d) for x in (v.values() if isinstance(v, dict) else v))
    return deepest


def loads_json(text: str | bytes, limit: int = MAX_NESTING) -> Any:
    """``json.loads``, but nesting deeper than ``limit`` raises :class:`NestingError` (never ``RecursionError``,
    and nothing deeper than ``limit`` reaches code that walks the value recursively)."""
    import json

    try:
        obj = json.loads(text)
    except RecursionError:
        raise NestingError(f"nested too deeply (more than {limit} levels of lists/objects)") from None
    if nesting_depth(obj, limit) > limit:
        raise NestingError(f"nested too deeply (more than {limit} levels of lists/objects)")
    return obj


def _yaml_depth_line(text: str, limit: int) -> int | None:
    """The 1-based line where a YAML document first nests deeper than ``limit`` (None if it never does). The
    event parser is iterative, unlike the composer, so any depth is safe to check."""
    import yaml

    depth = 0
    for ev in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(ev, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > limit and ev.start_mark is not None:  # the parser marks every event
                return ev.start_mark.line + 1
        elif isinstance(ev, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
    return None


def read_yaml(path: str | Path, what: str = "file") -> Any:
    """A YAML file's content; errors name the file, the line of a syntax error and what the file is. A file
    nested deeper than :data:`MAX_NESTING` levels is refused with the line where it gets too deep."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        line = _yaml_depth_line(text, MAX_NESTING)
        if line is not None:
            raise ConfigError(
                f"{path}:{line}: {what} nests deeper than {MAX_NESTING} levels of lists/mappings; "
                f"expected a shallow settings file"
            )
        return join_surrogate_pairs(yaml.safe_load(text))
    except OSError as e:
        raise ConfigError(f"{path}: cannot read {what} ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: {what} is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(
            f"{path}{f':{mark.line + 1}' if mark else ''}: invalid YAML in {what}: {getattr(e, 'problem', None) or e}"
        ) from None


PROJECT_MARKERS = ("workbench.toml", "pyproject.toml", ".git")  # strongest first


def find_project_dir(start: Path | None = None) -> Path:
    """The project root, so that a kernel in ``notebooks/``, the CLI at the root, ``make lab`` and
    ``workbench tracking ui`` all use one store: ``WORKBENCH_PROJECT_DIR`` if set, else the nearest directory from
    ``start`` (default: the working directory) upwards holding ``workbench.toml``, else the nearest holding
    ``pyproject.toml`` or ``.git``, else ``start`` itself."""
    env = os.environ.get("WORKBENCH_PROJECT_DIR")
    if env:
        return Path(env).resolve()
    start = (start or Path.cwd()).resolve()
    dirs = (start, *start.parents)
    for markers in (PROJECT_MARKERS[:1], PROJECT_MARKERS[1:]):
        for d in dirs:
            if any((d / m).exists() for m in markers):
                return d
    return start


@dataclass
class Endpoint:
    """One OpenAI-compatible endpoint. ``api_key_env`` names a variable; keys are never stored here."""

    name: str
    kind: str  # a kind registered in workbench.llm.endpoints (local, openai, azure, openai_compatible, ...)
    base_url: str | None = None
    api_key_env: str | None = None
    models: list[str] = field(default_factory=list)
    default_model: str | None = None
    max_concurrency: int = 8
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    api_version: str | None = None
    timeout_s: float = 120.0
    source: str | None = None  # where it was declared ("built-in" or the workbench.toml path), for errors

    def api_key(self) -> str:
        """The key from the environment; a clear error if the variable is unset."""
        if self.api_key_env is None:
            return "not-needed"
        key = os.environ.get(self.api_key_env)
        if not key:
            raise ConfigError(
                f"endpoint '{self.name}' needs an API key: set the environment variable {self.api_key_env} "
                f"(e.g. `export {self.api_key_env}=...`); keys are never read from files or parameters"
            )
        return key

    def has_key(self) -> bool:
        return self.api_key_env is None or bool(os.environ.get(self.api_key_env))


# The built-in endpoints, as data read from the environment. What each *kind* does (start the embedded server,
# build an Azure client, price, count tokens...) lives in workbench.llm.endpoints, which this module never imports.
def _builtin_endpoints() -> dict[str, Endpoint]:
    return {
        "local": Endpoint(
            name="local",
            kind="local",
            models=[LOCAL_MODEL],
            default_model=LOCAL_MODEL,
            max_concurrency=int(os.environ.get("WORKBENCH_LOCAL_PARALLEL", "4")) * 2,
            timeout_s=120.0,
            prices={"*": {"input": 0.0, "output": 0.0}},
            source="built-in",
        ),
        "openai": Endpoint(
            name="openai",
            kind="openai",
            base_url=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
            api_key_env="OPENAI_API_KEY",
            models=["gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1"],
            default_model="gpt-4o-mini",
            max_concurrency=16,
            source="built-in",
        ),
        "azure": Endpoint(
            name="azure",
            kind="azure",
            base_url=os.environ.get("AZURE_OPENAI_ENDPOINT"),
            api_key_env="AZURE_OPENAI_API_KEY",
            api_version=os.environ.get("OPENAI_API_VERSION"),
            models=["gpt-4o-mini"],
            default_model="gpt-4o-mini",
            max_concurrency=16,
            source="built-in",
        ),
    }


@dataclass
class Settings:
    project_dir: Path
    endpoints: dict[str, Endpoint]
    aliases: dict[str, str]
    prices: dict[str, dict[str, float]]
    tables: dict[str, dict] = field(default_factory=dict)  # other tables: [tracing], [privacy], [process], [secrets]

    def option(self, table: str, key: str, default: Any = None, env: str | None = None) -> Any:
        """``[table] key`` from workbench.toml; the environment variable ``env`` (if set) wins."""
        if env and (v := os.environ.get(env)) is not None:
            return v.strip().lower() in ("1", "true", "yes", "on") if isinstance(default, bool) else v
        return (self.tables.get(table) or {}).get(key, default)

    @property
    def redact_pii(self) -> bool:
        """Workspace switch for PII redaction of traces, tables and cards (``[privacy] redact_pii``,
        env ``WORKBENCH_REDACT_PII``); off by default. Served apps redact unless their config says not to."""
        return bool(self.option("privacy", "redact_pii", False, env="WORKBENCH_REDACT_PII"))

    @property
    def cache_db(self) -> Path:
        return Path(os.environ.get("WORKBENCH_RESPONSE_CACHE", self.project_dir / ".workbench" / "cache.db"))

    @property
    def tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.project_dir / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.project_dir / "mlartifacts"

    def resolve_model(self, spec: str) -> tuple[Endpoint, str]:
        """``endpoint:model`` | alias | endpoint name → (endpoint, model). Clear error otherwise."""
        if not spec or not isinstance(spec, str):
            raise ConfigError(f"model must be a non-empty string like 'local' or 'openai:gpt-4o-mini', got {spec!r}")
        seen = set()
        while spec in self.aliases and spec not in seen:
            seen.add(spec)
            spec = self.aliases[spec]
        name, _, model = spec.partition(":")
        if name not in self.endpoints:
            known = ", ".join(sorted(self.endpoints)) or "none"
            raise ConfigError(
                f"unknown endpoint '{name}' in model '{spec}': known endpoints are {known}; "
                f"declare others under [endpoints.NAME] in workbench.toml"
            )
        ep = self.endpoints[name]
        model = model or ep.default_model or (ep.models[0] if ep.models else "")
        if not model:
            raise ConfigError(f"endpoint '{name}' has no default model: write '{name}:MODEL'")
        return ep, model


# The type every workbench.toml setting must have: (check, what to say). A value of another type is refused
# with the file, line and key; TOML's own types are used, so ``redact_pii = "false"`` (a string) is an error,
# never read as true.
_BOOL = (lambda v: isinstance(v, bool), "true or false (a TOML boolean, unquoted)")
_STR = (lambda v: isinstance(v, str), "a string")
_POS_INT = (lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0, "a positive integer (unquoted)")
_POS_NUM = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0, "a positive number (unquoted)")
_STR_LIST = (lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v), "a list of strings")
_PRICES = (
    lambda v: (
        isinstance(v, dict)
        and all(
            isinstance(p, dict) and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in p.values())
            for p in v.values()
        )
    ),
    "a table of models, each {input = USD, output = USD} with numbers",
)
SETTING_TYPES: dict[str, dict[str, tuple]] = {
    "endpoints.*": {
        "base_url": _STR,
        "api_key_env": _STR,
        "models": _STR_LIST,
        "default_model": _STR,
        "max_concurrency": _POS_INT,
        "prices": _PRICES,
        "kind": _STR,
        "api_version": _STR,
        "timeout_s": _POS_NUM,
    },
    "privacy": {"redact_pii": _BOOL},
    "tracing": {"enabled": _BOOL, "experiment": _STR},
    "secrets": {"names": _STR_LIST},  # [local]/[process] threads: checked where read (llm/threads.py)
}


def key_line(text: str, table: str, key: str) -> int | None:
    """The 1-based line of ``key = ...`` under ``[table]`` in TOML ``text`` (None if not found)."""
    import re

    current: list[str] = []
    want = [p.strip().strip('"') for p in table.split(".")] if table else []
    for n, line in enumerate(text.splitlines(), 1):
        head = re.match(r"\s*\[([^\[\]]+)\]\s*(?:#.*)?$", line)
        if head:
            current = [p.strip().strip('"') for p in head.group(1).split(".")]
            continue
        if current == want and re.match(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=", line):
            return n
    return None


def check_types(data: dict, path: Path, text: str) -> None:
    """Refuse a setting of the wrong type with ``file:line: [table] key must be ...``."""

    def check(table: str, raw: Any, types: dict) -> None:
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: [{table}] must be a table")
        for key, (ok, what) in types.items():
            if key in raw and not ok(raw[key]):
                line = key_line(text, table, key)
                raise ConfigError(
                    f"{path}{f':{line}' if line else ''}: [{table}] {key} must be {what}, got {raw[key]!r}"
                )

    for name, raw in (data.get("endpoints") or {}).items():
        check(f"endpoints.{name}", raw, SETTING_TYPES["endpoints.*"])
    for table, types in SETTING_TYPES.items():
        if "*" not in table and table in data:
            check(table, data[table], types)
    if "prices" in data and not _PRICES[0](data["prices"]):
        raise ConfigError(f"{path}: [prices] must be {_PRICES[1]}")


def toml_error(path: Path, e: Exception) -> ConfigError:
    """``file:line: invalid TOML: what`` from a ``tomllib`` error (its message ends "(at line N, column M)")."""
    import re

    msg = str(e)
    m = re.search(r"\s*\(at line (\d+), column (\d+)\)$", msg)
    if m:
        return ConfigError(f"{path}:{m.group(1)}: invalid TOML (column {m.group(2)}): {msg[: m.start()]}")
    return ConfigError(f"{path}: invalid TOML: {msg}")


def _toml_endpoint(name: str, raw: dict, path: Path) -> Endpoint:
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: [endpoints.{name}] must be a table")
    allowed = {
        "base_url",
        "api_key_env",
        "models",
        "default_model",
        "max_concurrency",
        "prices",
        "kind",
        "api_version",
        "timeout_s",
        "api_key",
    }
    unknown = set(raw) - allowed
    if unknown:
        raise ConfigError(
            f"{path}: [endpoints.{name}] has unknown keys {sorted(unknown)}; allowed: {sorted(allowed - {'api_key'})}"
        )
    if "api_key" in raw:
        raise ConfigError(
            f"{path}: [endpoints.{name}] holds an api_key: remove it and name an environment "
            f'variable instead (api_key_env = "MY_KEY")'
        )
    kind = raw.get("kind", "openai_compatible")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(f'{path}: [endpoints.{name}] kind must be a name like "openai_compatible"')
    # a built-in kind starts from its built-in endpoint (its URL, key variable, models); others from scratch
    base = next((ep for ep in _builtin_endpoints().values() if ep.kind == kind), None) or Endpoint(name=name, kind=kind)
    base.name, base.source = name, str(path)
    for key in ("base_url", "api_key_env", "default_model", "api_version"):
        if key in raw:
            setattr(base, key, raw[key])
    if "models" in raw:
        base.models = list(raw["models"])
    if "max_concurrency" in raw:
        base.max_concurrency = int(raw["max_concurrency"])
    if "timeout_s" in raw:
        base.timeout_s = float(raw["timeout_s"])
    if "prices" in raw:
        base.prices = {m: {k: float(v) for k, v in p.items()} for m, p in raw["prices"].items()}
    return base


def _models_file(project: Path) -> Path:
    return project / ".workbench" / "models.json"


def register_model(endpoint: str, model: str, project_dir: Path | None = None) -> None:
    """Record an extra model of an endpoint (e.g. a fine-tuned OpenAI model id) in ``.workbench/models.json``."""
    import json

    path = _models_file(find_project_dir(project_dir))
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    models = data.setdefault(endpoint, [])
    if model not in models:
        models.append(model)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    os.replace(tmp, path)


def load_settings(project_dir: Path | None = None) -> Settings:
    """Read built-in endpoints, then ``workbench.toml`` (which may add or override endpoints)."""
    project = find_project_dir(project_dir)
    endpoints = _builtin_endpoints()
    aliases: dict[str, str] = {"smollm2": "local:smollm2"}
    prices: dict[str, dict[str, float]] = {}
    tables: dict[str, dict] = {}
    path = project / "workbench.toml"
    if path.is_file():
        try:
            text = path.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise toml_error(path, e) from None
        except UnicodeDecodeError as e:
            raise ConfigError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        check_types(data, path, text)
        for name, raw in (data.get("endpoints") or {}).items():
            endpoints[name] = _toml_endpoint(name, raw, path)
        aliases.update({str(k): str(v) for k, v in (data.get("aliases") or {}).items()})
        for model, p in (data.get("prices") or {}).items():
            prices[model] = {k: float(v) for k, v in p.items()}
        tables = {
            k: v
            for k, v in data.items()
            if k in ("tracing", "privacy", "local", "process", "secrets") and isinstance(v, dict)
        }
    try:
        import json

        for name, models in json.loads(_models_file(project).read_text()).items():
            if name in endpoints:
                endpoints[name].models += [m for m in models if m not in endpoints[name].models]
    except (OSError, ValueError):
        pass
    return Settings(project_dir=project, endpoints=endpoints, aliases=aliases, prices=prices, tables=tables)


def settings() -> Settings:
    """Current settings, read afresh (cheap: one small TOML file), so edits to workbench.toml apply at once."""
    return load_settings()
