"""Secrets: which names are credentials, their values in this environment, and scrubbing them from text.

Used by the launchers (parameters with credential names are refused, outputs are scrubbed), the governance
card and the secret scan. A name is a credential when one of its words (split on ``_ - .`` and camelCase) is
a credential word; word-based rather than the glob ``*token*``, which would refuse ``max_tokens``.
"""

from __future__ import annotations

import os
import re

from .config import settings

SECRET_WORDS = frozenset({"key", "apikey", "token", "secret", "password", "passwd", "pwd", "credential",
                          "credentials", "passphrase", "bearer"})
NOT_SECRET = frozenset({"PWD", "OLDPWD"})  # the shell's working directories, not passwords
MIN_SECRET_LEN = 8  # shorter values give too many false hits


def is_secret_name(name: str) -> bool:
    """``api_key``, ``OPENAI_API_KEY``, ``hfToken``, ``db_password`` → True; ``max_tokens``, ``top_k`` → False."""
    words = re.split(r"[_\-.\s]+|(?<=[a-z])(?=[A-Z])", name)
    return name not in NOT_SECRET and any(w.lower() in SECRET_WORDS for w in words if w)


def secret_env_values() -> dict[str, str]:
    """``{variable: value}`` of the configured API-key variables (every endpoint's ``api_key_env``) and of
    any environment variable whose name looks like a credential (values of at least 8 characters)."""
    names = {ep.api_key_env for ep in settings().endpoints.values() if getattr(ep, "api_key_env", None)}
    names |= {k for k in os.environ if is_secret_name(k)}
    return {n: os.environ[n] for n in sorted(names) if len(os.environ.get(n, "")) >= MIN_SECRET_LEN}


def secret_values() -> list[str]:
    """The values of :func:`secret_env_values`, longest first (so a key containing another is scrubbed whole)."""
    return sorted(set(secret_env_values().values()), key=len, reverse=True)


def scrub(text: str, secrets: list[str] | None = None) -> str:
    """``text`` with every secret value replaced by ``***``."""
    for s in secrets if secrets is not None else secret_values():
        text = text.replace(s, "***")
    return text
