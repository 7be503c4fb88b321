"""PII detection (and redaction): emails, phone numbers, payment card numbers (Luhn-checked), IBAN-like
strings. Used by the harm metrics (PII leakage) and by redaction before anything is stored.

Detectors are pluggable and run in registration order; a later detector never claims text an earlier one
took (a card number is not also a phone number):

* ``register_pattern(name, regex, validator=None)`` — a regular expression, optionally validated;
* ``register_detector(name, finder)`` — any ``finder(text) -> [(start, end)]``.

Phones use Google's libphonenumber (the ``phonenumbers`` package): a number written with ``+`` and a country
code (E.164 and its spaced/dashed forms) is accepted when it is a *possible* number for that country; a
national number (``(212) 555-0199``, ``020 7946 0018``, ``01 23 45 67 89``) when it is a *valid* number in
one of ``PHONE_REGIONS``, or when it is written in a national trunk-prefix grouping (``07700 900456``) and is
possible there. Candidates inside identifiers (``INV-2026-004512``), after an identifier word ("order",
"invoice", "ticket", "serial", ...), or shaped like dates, times, IP addresses and versions are not phones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import phonenumbers as _pn

PHONE_REGIONS = ("US", "GB", "FR", "DE")  # national formats understood without a "+"; add yours


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


Finder = Callable[[str], list[tuple[int, int]]]


@dataclass(frozen=True)
class PiiPattern:
    """A named detector: ``find(text)`` gives the ``(start, end)`` spans it claims."""
    name: str
    find: Finder
    regex: re.Pattern | None = None
    validator: Callable[[str], bool] | None = None


PATTERNS: dict[str, PiiPattern] = {}


def register_detector(name: str, finder: Finder) -> None:
    """Register (or replace) a detector that returns ``(start, end)`` spans."""
    PATTERNS[name] = PiiPattern(name, finder)


def register_pattern(name: str, regex: str, validator: Callable[[str], bool] | None = None) -> None:
    """Register (or replace) a regular-expression detector; ``validator(match)`` may reject a match."""
    rx = re.compile(regex)

    def find(text: str) -> list[tuple[int, int]]:
        return [m.span() for m in rx.finditer(text) if not validator or validator(m.group())]

    PATTERNS[name] = PiiPattern(name, find, rx, validator)


# --- phones -----------------------------------------------------------------------------------------------

_ID_WORDS = re.compile(r"\b(?:order|invoice|inv|ticket|case|ref|reference|tracking|serial|sku|model|account|"
                       r"acct|id|no|nr|version|ip|port|batch|lot|po)\b\W{0,3}(?:(?:number|no|nr|id|#)\W{0,3})?"
                       r"(?:is\W{1,3})?$", re.I)
_NOT_PHONE = re.compile(r"^\d{1,4}([-/.])\d{1,2}\1\d{1,4}$"          # dates 2026-12-01, 12/01/2026
                        r"|^\d{1,3}(?:\.\d{1,3}){3}$"               # IPv4
                        r"|^\d{1,3}(?:\.\d{1,3}){1,2}$"             # versions 3.17.2, decimals
                        r"|^\d{1,2}:\d{2}")                         # times
_CANDIDATE = re.compile(r"[+(]?\d[\d ().\-/]{5,22}\d\)?")
_INTL = re.compile(r"(?<![\w+])\+\d[\d ().-]{5,20}\d")
_TRUNK = re.compile(r"(?<![\w.-])\(?0\d{1,4}\)?(?:[ .-]\d{2,4}){1,4}(?![\w-]|\.\d)")


def _phone_context_ok(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    if _NOT_PHONE.match(raw):
        return False
    before, after = text[max(0, start - 30):start], text[end:end + 2]
    if before[-1:].isalnum() or before[-1:] in ("-", "#", "/") or after[:1].isalnum() or after[:1] == "-" \
            or (before[-1:] == ":" and before[-2:-1].isdigit()) or (after[:1] == ":" and after[1:2].isdigit()):
        return False  # part of a longer token: INV-2026-004512, #20261130-4471
    return not _ID_WORDS.search(before)


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        if not any(s < e2 and s2 < e for s2, e2 in spans) and _phone_context_ok(text, s, e):
            spans.append((s, e))

    for cand in _CANDIDATE.finditer(text):  # libphonenumber only on phone-shaped digit runs: fast on prose
        groups = re.findall(r"\d+", cand.group())
        if not 7 <= sum(map(len, groups)) <= 15 or len(groups) > 6 or sum(len(g) == 1 for g in groups) > 2 \
                or re.search(r"\.\d{5,}", cand.group()):  # runs of decimals (vectors, measurements)
            continue
        lo, hi = max(0, cand.start() - 8), min(len(text), cand.end() + 8)  # keep the neighbours in view
        for region in PHONE_REGIONS:
            for m in _pn.PhoneNumberMatcher(text[lo:hi], region, leniency=_pn.Leniency.VALID):
                add(lo + m.start, lo + m.end)
    for m in _INTL.finditer(text):
        raw = m.group().rstrip(" ().-")
        try:
            ok = _pn.is_possible_number(_pn.parse(raw, None))
        except _pn.NumberParseException:
            ok = False
        if ok:
            add(m.start(), m.start() + len(raw))
    for m in _TRUNK.finditer(text):
        for region in PHONE_REGIONS:
            try:
                num = _pn.parse(m.group(), region)
            except _pn.NumberParseException:
                continue
            if _pn.is_possible_number(num) and 9 <= sum(c.isdigit() for c in m.group()) <= 12:
                add(*m.span())
                break
    return sorted(spans)


register_pattern("email", r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
register_pattern("card", r"\b(?:\d[ -]?){12,18}\d\b", luhn_ok)
register_pattern("iban", r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]{4}){2,7}(?:[ ]?[A-Z0-9]{1,4})?\b")
register_detector("phone", _phone_spans)


def find_pii_spans(text: str) -> list[tuple[str, int, int]]:
    """``[(kind, start, end)]`` in text order; earlier detectors win overlaps."""
    found: list[tuple[str, int, int]] = []
    for p in PATTERNS.values():
        for s, e in p.find(text or ""):
            if not any(s < e2 and s2 < e for _, s2, e2 in found):
                found.append((p.name, s, e))
    return sorted(found, key=lambda t: t[1])


def find_pii(text: str) -> list[tuple[str, str]]:
    """``[(kind, matched text)]``; card numbers must pass Luhn; phones as described in the module docstring."""
    return [(k, text[s:e]) for k, s, e in find_pii_spans(text)]


def canonical(kind: str, value: str) -> str:
    """The comparable form of a PII value: the national number for phones, digits for cards, upper-case
    alphanumerics for IBANs, lower case for emails — so a re-spaced card is the same card."""
    return CANONICAL.get(kind, _canonical_text)(value)


def _canonical_phone(value: str) -> str:
    for region in (None, *PHONE_REGIONS):  # national significant number: +1 415 ... == (415) ...
        try:
            num = _pn.parse(value, region)
        except _pn.NumberParseException:
            continue
        if _pn.is_possible_number(num):
            return str(num.national_number)
    return _digits(value)


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def _canonical_text(value: str) -> str:
    return value.strip().lower()


CANONICAL = {"phone": _canonical_phone, "card": _digits, "iban": lambda v: re.sub(r"[^A-Z0-9]", "", v.upper())}


def redact(text: str, placeholder: str = "[{kind}]") -> str:
    """Replace every PII match with ``[KIND]``."""
    out, pos = [], 0
    for kind, s, e in find_pii_spans(text or ""):
        out += [text[pos:s], placeholder.format(kind=kind.upper())]
        pos = e
    return "".join(out) + (text or "")[pos:] if out else text


def redact_value(value: Any) -> Any:
    """``value`` with PII replaced in every string inside it (dicts and lists are walked)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_value(v) for v in value]
    return value
