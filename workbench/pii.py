"""PII detection (and redaction): emails, phone numbers, payment card numbers (Luhn-checked), IBAN-like
strings. Used by the harm metrics (PII leakage) and by redaction before anything is stored.

Patterns are pluggable: ``register_pattern(name, regex, validator=None)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable


def luhn_ok(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    if not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _phone_ok(s: str) -> bool:
    return 9 <= sum(c.isdigit() for c in s) <= 15


@dataclass(frozen=True)
class PiiPattern:
    name: str
    regex: re.Pattern
    validator: Callable[[str], bool] | None = None


PATTERNS: dict[str, PiiPattern] = {}


def register_pattern(name: str, regex: str, validator: Callable[[str], bool] | None = None) -> None:
    PATTERNS[name] = PiiPattern(name, re.compile(regex), validator)


register_pattern("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
register_pattern("card", r"\b(?:\d[ -]?){12,18}\d\b", luhn_ok)
register_pattern("iban", r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
register_pattern("phone", r"(?<![\w.])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]?\d{2,4}){2,4}(?![\w.])",
                 _phone_ok)


def find_pii(text: str) -> list[tuple[str, str]]:
    """``[(kind, matched text)]``; card numbers must pass Luhn, phones need 9–15 digits."""
    found: list[tuple[str, str]] = []
    taken: list[tuple[int, int]] = []
    for p in PATTERNS.values():  # email, card and iban first: a card number is not also a phone number
        for m in p.regex.finditer(text or ""):
            if p.validator and not p.validator(m.group()):
                continue
            if any(m.start() < e and s < m.end() for s, e in taken):
                continue
            taken.append(m.span())
            found.append((p.name, m.group()))
    return found


def redact(text: str, placeholder: str = "[{kind}]") -> str:
    """Replace every PII match with ``[KIND]``."""
    for kind, value in sorted(find_pii(text), key=lambda kv: -len(kv[1])):
        text = text.replace(value, placeholder.format(kind=kind.upper()))
    return text


def redact_value(value: Any) -> Any:
    """``value`` with PII replaced in every string inside it (dicts and lists are walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
