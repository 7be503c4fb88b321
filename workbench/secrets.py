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
from urllib.parse import urlsplit

from .config import settings

SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential",
                          "credentials", "passphrase", "bearer", "pat", "passkey"})
SECRET_INFIXES = ("password", "passwd", "secret", "passphrase", "credential", "apikey")  # DBPASSWORD, MYSECRET
SECRET_SUFFIXES = ("key", "token")  # openaikey, secretkey, accesstoken
NOT_SECRET_WORDS = frozenset({"monkey", "donkey", "turkey", "hockey", "jockey", "whiskey", "hotkey", "turnkey",
                              "lackey"})  # English words ending in "key"
NOT_SECRET = frozenset({"PWD", "OLDPWD"})  # the shell's working directories, not passwords
MIN_SECRET_LEN = 8  # shorter values give too many false hits (a URL's userinfo is a secret at any length)
_WORDS = re.compile(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])|(?<=[A-Za-z])(?=\d)|(?<=\d)(?=[A-Za-z])")
URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^/@\s\"'<>]+)@"
                          r"(?P<host>[^/\s\"'<>?#]*)")


def extra_secret_names() -> frozenset[str]:
    """Names listed under ``[secrets] names`` in ``workbench.toml``."""
    names = settings().option("secrets", "names", []) or []
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


def mask_url(text: str) -> str:
    """``http://user:pw@host/v1`` → ``http://***@host/v1`` (every URL in ``text``)."""
    return URL_USERINFO.sub(lambda m: f"{m.group('scheme')}***@{m.group('host')}", text)


def secret_env_values() -> dict[str, str]:
    """``{variable: value}`` of the configured API-key variables (every endpoint's ``api_key_env``), of any
    environment variable whose name looks like a credential (values of at least 8 characters) or is listed in
    ``[secrets] names``, and of the userinfo of URLs in any variable (``DATABASE_URL (URL userinfo)``)."""
    extra = extra_secret_names()
    names = {ep.api_key_env for ep in settings().endpoints.values() if getattr(ep, "api_key_env", None)}
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
    """``text`` with every secret value replaced by ``***`` and the userinfo of every URL masked."""
    for s in secrets if secrets is not None else secret_values():
        text = text.replace(s, "***")
    return mask_url(text) if "@" in text else text
