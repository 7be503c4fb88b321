"""Secrets: which names are credentials, their values in this environment, and scrubbing them from text.

Used by the launchers (parameters with credential names are refused, outputs are scrubbed), the governance
card and the secret scan. A name is a credential when one of its words (split on ``_ - .``, camelCase and
digits) is a credential word (``key``, ``token``, ``pat``...), contains one (``DBPASSWORD``, ``mysqlpasswd``),
or ends with ``key``/``token`` (``openaikey``, ``ACCESSTOKEN``); word-based rather than the glob ``*token*``,
which would refuse ``max_tokens``. ``[secrets] names = [...]`` in ``workbench.toml`` adds names. The userinfo
of a URL (``https://user:password@host``) in any variable is a secret too, and is masked wherever it is shown.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from .config import settings

SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "pwd",
        "credential",
        "credentials",
        "passphrase",
        "bearer",
        "pat",
        "passkey",
        "authorization",
        "cookie",
    }
)
SECRET_INFIXES = ("password", "passwd", "secret", "passphrase", "credential", "apikey")  # DBPASSWORD, MYSECRET
SECRET_SUFFIXES = ("key", "token")  # openaikey, secretkey, accesstoken
NOT_SECRET_WORDS = frozenset(
    {"monkey", "donkey", "turkey", "hockey", "jockey", "whiskey", "hotkey", "turnkey", "lackey"}
)  # English words ending in "key"
NOT_SECRET = frozenset({"PWD", "OLDPWD"})  # the shell's working directories, not passwords
MIN_SECRET_LEN = 8  # shorter values give too many false hits (a URL's userinfo is a secret at any length)
_WORDS = re.compile(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
URL_USERINFO = re.compile(
    r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s\"'<>]+)@"
    r"(?P<host>[^/\s\"'<>?#]*)"
)


def _settings():
    """The settings, or None when ``workbench.toml`` is broken: scrubbing must work while that error is being
    reported (the environment's credentials are still found by name)."""
    from .errors import ConfigError

    try:
        return settings()
    except ConfigError:
        return None


def extra_secret_names() -> frozenset[str]:
    """Names listed under ``[secrets] names`` in ``workbench.toml``."""
    s = _settings()
    names = (s.option("secrets", "names", []) if s is not None else []) or []
    return frozenset(str(n) for n in names) if isinstance(names, (list, tuple)) else frozenset()


def _secret_word(w: str) -> bool:
    w = w.lower()
    if w in SECRET_WORDS:
        return True
    if w in NOT_SECRET_WORDS or w.isdigit():
        return False
    return any(x in w for x in SECRET_INFIXES) or any(w.endswith(s) and len(w) > len(s) for s in SECRET_SUFFIXES)


def is_secret_name(name: str, extra: frozenset[str] | None = None) -> bool:
    """``api_key``, ``OPENAI_API_KEY``, ``hfToken``, ``DBPASSWORD``, ``api_key2``, ``openaikey`` → True;
    ``max_tokens``, ``top_k``, ``PWD`` → False. ``extra``: more names (default: ``workbench.toml``'s)."""
    if name in NOT_SECRET:
        return False
    if name in (extra if extra is not None else extra_secret_names()):
        return True
    return any(_secret_word(w) for w in _WORDS.split(name) if w)


def url_userinfo(value: str) -> list[str]:
    """The ``user:password@host`` parts of the URLs in ``value`` (with the host: ``u:p`` alone would match
    ordinary text), and each password alone when it is long enough to be one."""
    out = []
    for m in URL_USERINFO.finditer(value):
        out.append(f"{m.group('userinfo')}@{m.group('host')}")
        try:
            pw = urlsplit(m.group(0) + "x").password
        except ValueError:
            pw = None
        if pw and len(pw) >= MIN_SECRET_LEN:
            out.append(pw)
    return out


QUERY_SECRET_NAMES = frozenset({"sig", "signature", "code", "auth"})  # besides credential names (token=, key=)
_QUERY_PARAM = re.compile(r"(?P<pre>[?&;](?P<name>[A-Za-z0-9_.\-]+)=)(?P<value>[^&#;\s\"'<>]+)")


def _mask_query(m: re.Match) -> str:
    name = m.group("name")
    secret = name.lower() in QUERY_SECRET_NAMES or is_secret_name(name, frozenset())
    return f"{m.group('pre')}***" if secret else m.group(0)


def mask_url(text: str) -> str:
    """``http://user:pw@host/v1?token=abc`` → ``http://***@host/v1?token=***`` (every URL in ``text``): the
    userinfo and the values of credential-named query parameters (``token``, ``api_key``, ``sig``...)."""
    text = URL_USERINFO.sub(lambda m: f"{m.group('scheme')}***@{m.group('host')}", text)
    return _QUERY_PARAM.sub(_mask_query, text) if "=" in text and "://" in text else text


ENV_REF = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: Any, where: str = "settings") -> tuple[Any, list[str]]:
    """``(value with every ${NAME} in its strings replaced by that environment variable, the values used)``,
    walking dicts and lists: secrets stay out of YAML files and are scrubbed wherever they could be shown.
    A variable that is not set is a :class:`~workbench.errors.ConfigError` naming it and ``where``."""
    from .errors import ConfigError

    used: list[str] = []

    def one(s: str, at: str) -> str:
        def repl(m: re.Match) -> str:
            name = m.group("name")
            if name not in os.environ:
                raise ConfigError(f"{at}: ${{{name}}} is not set in the environment")
            used.append(os.environ[name])
            return os.environ[name]

        return ENV_REF.sub(repl, s)

    def walk(v: Any, at: str) -> Any:
        if isinstance(v, str):
            return one(v, at)
        if isinstance(v, dict):
            return {k: walk(x, f"{at}.{k}") for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, f"{at}[{i}]") for i, x in enumerate(v)]
        return v

    return walk(value, where), [u for u in used if u]


_last: dict[str, tuple] = {}  # "values": (what secret_env_values read, its answer)


def _sources() -> tuple:
    """What :func:`secret_env_values` depends on: the environment, and which ``workbench.toml`` (its inode, size
    and modification time) the settings come from."""
    from .config import find_project_dir

    path = find_project_dir() / "workbench.toml"
    try:
        st = path.stat()
        toml: tuple | None = (str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    except OSError:
        toml = None
    return (tuple(os.environ.items()), toml)


def secret_env_values() -> dict[str, str]:
    """``{variable: value}`` of the configured API-key variables (every endpoint's ``api_key_env``), of any
    environment variable whose name looks like a credential (values of at least 8 characters) or is listed in
    ``[secrets] names``, and of the userinfo of URLs in any variable (``DATABASE_URL (URL userinfo)``).

    Worked out again whenever the environment or ``workbench.toml`` changed, else the last answer: every span
    of every trace asks (scrubbing), and classifying each variable's name took ~1 ms a call."""
    key = _sources()
    last = _last.get("values")
    if last is not None and last[0] == key:
        return dict(last[1])
    out = _secret_env_values()
    _last["values"] = (key, dict(out))
    return out


def _secret_env_values() -> dict[str, str]:
    extra = extra_secret_names()
    s = _settings()
    names = {
        ep.api_key_env for ep in (s.endpoints.values() if s is not None else ()) if getattr(ep, "api_key_env", None)
    }
    names |= {k for k in os.environ if is_secret_name(k, extra)}
    out = {n: os.environ[n] for n in sorted(names) if len(os.environ.get(n, "")) >= MIN_SECRET_LEN}
    for k, v in sorted(os.environ.items()):
        if "@" in v and "://" in v:
            for i, info in enumerate(url_userinfo(v)):
                out[f"{k} (URL userinfo{'' if i == 0 else f' {i}'})"] = info
    return out


def secret_values() -> list[str]:
    """The values of :func:`secret_env_values`, longest first (so a key containing another is scrubbed whole)."""
    return sorted(set(secret_env_values().values()), key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every secret value replaced by ``***``, and the userinfo and credential-named query
    parameters of every URL masked."""
    for s in secrets if secrets is not None else secret_values():
        text = text.replace(s, "***")
    return mask_url(text) if "://" in text else text


def scrub_value(value: Any, secrets: list[str] | None = None) -> Any:
    """``value`` with :func:`scrub` applied to every string inside it (dicts, lists and tuples are walked; dict
    keys too). Other values pass unchanged."""
    secrets = secret_values() if secrets is None else secrets
    if isinstance(value, str):
        return scrub(value, secrets)
    if isinstance(value, dict):
        return {scrub_value(k, secrets): scrub_value(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(scrub_value(v, secrets) for v in value)
    return value


def mask_secret_fields(value: Any, extra: frozenset[str] | None = None) -> Any:
    """``value`` with the value under every credential-named key replaced by ``***``, at any depth: a literal
    key in a candidate's ``extra_headers={"X-Api-Key": ...}`` or ``{"Authorization": "Bearer ..."}`` never
    reaches a LoggedModel param, a span or the response cache, whether or not it is in the environment."""
    extra = extra_secret_names() if extra is None else extra
    if isinstance(value, dict):
        return {
            k: (
                "***"
                if isinstance(k, str) and v not in (None, "") and is_secret_name(k, extra)
                else mask_secret_fields(v, extra)
            )
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return type(value)(mask_secret_fields(v, extra) for v in value)
    return value


def clean(value: Any) -> Any:
    """Both :func:`mask_secret_fields` and :func:`scrub_value`: what may be recorded of ``value``."""
    return scrub_value(mask_secret_fields(value))
