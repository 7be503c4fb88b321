"""PII detection (and redaction): emails (apostrophes and non-ASCII letters included), phone numbers, payment
card numbers (Luhn-checked, written in one run or groups of four separated by spaces, double spaces, dots or
dashes), IBANs (any case, spaced or dashed, checked against the country's length and the mod-97 checksum).
Names and street addresses are **not** found. Used by the harm metrics (PII leakage) and by redaction before
anything is stored.

Detectors are pluggable and run in registration order; a later detector never claims text an earlier one
took (a card number is not also a phone number):

* ``register_pattern(name, regex, validator=None)`` — a regular expression, optionally validated;
* ``register_detector(name, finder)`` — any ``finder(text) -> [(start, end)]``.

Phones use Google's libphonenumber (the ``phonenumbers`` package): a number written with ``+`` and a country
code (E.164 and its spaced/dashed forms) is accepted when it is a *possible* number for that country; a
national number (``(212) 555-0199``, ``020 7946 0018``, ``01 23 45 67 89``) when it is a *valid* number in
one of ``PHONE_REGIONS``, or when the whole digit run is valid in one of ``MORE_PHONE_REGIONS`` (``06 6988 4857``
in Italy), or when it is written in a national trunk-prefix grouping (``07700 900456``) and is possible there.
A run of one- and two-digit groups (``4 8 15 16 23 42``, lottery numbers) is not a phone. Candidates inside identifiers (``INV-2026-004512``), after an identifier word ("order",
"invoice", "ticket", "serial", ...), or shaped like dates, times, IP addresses and versions are not phones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers as _pn

PHONE_REGIONS = ("US", "GB", "FR", "DE")  # national formats matched inside text, and trunk-prefix groupings
# more countries whose national numbers (no "+") count when the whole digit run is a *valid* number there
MORE_PHONE_REGIONS = (
    "IT",
    "ES",
    "NL",
    "BE",
    "CH",
    "AT",
    "IE",
    "PT",
    "SE",
    "NO",
    "DK",
    "FI",
    "PL",
    "CZ",
    "AU",
    "NZ",
    "IN",
    "JP",
    "BR",
    "MX",
    "ZA",
    "SG",
)


CARD_LAYOUTS = ((4, 6, 5), (4, 6, 4))  # Amex, Diners; other cards are written in groups of four


def card_ok(number: str) -> bool:
    """A payment card: 13-19 digits passing Luhn, a plausible first digit (2-6), written as one run, in groups
    of four (the last may be shorter) or in the Amex/Diners layouts — a list of lottery numbers is not a card."""
    groups = re.findall(r"\d+", number)
    if number.lstrip()[:1] not in "23456" or not luhn_ok(number):
        return False
    sizes = tuple(map(len, groups))
    return len(sizes) == 1 or sizes in CARD_LAYOUTS or (all(n == 4 for n in sizes[:-1]) and 1 <= sizes[-1] <= 4)


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

_ID_WORDS = re.compile(
    r"\b(?:order|invoice|inv|ticket|case|ref|reference|tracking|serial|sku|model|account|"
    r"acct|id|no|nr|version|ip|port|batch|lot|po|sn|s/n|part|code|pin)\b\W{0,3}(?:(?:number|no|nr|id|#)\W{0,3})?"
    r"(?:is\W{1,3})?$",
    re.I,
)
_NOT_PHONE = re.compile(
    r"^\d{1,4}([-/.])\d{1,2}\1\d{1,4}$"  # dates 2026-12-01, 12/01/2026
    r"|^\d{1,3}(?:\.\d{1,3}){3}$"  # IPv4
    r"|^\d{1,3}(?:\.\d{1,3}){1,2}$"  # versions 3.17.2, decimals
    r"|^\d{1,2}:\d{2}"
)  # times
_CANDIDATE = re.compile(r"[+(]?\d[\d ().\-/]{5,22}\d\)?")
_INTL = re.compile(r"(?<![\w+])\+\d[\d ().-]{5,20}\d")
_TRUNK = re.compile(r"(?<![\w.-])\(?0\d{1,4}\)?(?:[ .-]\d{2,4}){1,4}(?![\w-]|\.\d)")


def _phone_context_ok(text: str, start: int, end: int) -> bool:
    raw = text[start:end]
    if _NOT_PHONE.match(raw):
        return False
    before, after = text[max(0, start - 30) : start], text[end : end + 2]
    if (
        before[-1:].isalnum()
        or before[-1:] in ("-", "#", "/")
        or after[:1].isalnum()
        or after[:1] == "-"
        or (before[-1:] == ":" and before[-2:-1].isdigit())
        or (after[:1] == ":" and after[1:2].isdigit())
    ):
        return False  # part of a longer token: INV-2026-004512, #20261130-4471
    return not _ID_WORDS.search(before)


_LIST_BEFORE = re.compile(r"(?<!\d)\d{1,2}[ ,;/]+$")
_LIST_AFTER = re.compile(r"^[ ,;/]+\d{1,2}(?!\d)")


def _number_list(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is made of 1-2 digit groups (lottery numbers, scores) and is not exactly a French
    national number standing alone (``01 23 45 67 89``)."""
    groups = re.findall(r"\d+", text[start:end])
    if text[start] == "+" or len(groups) < 3 or any(len(g) > 2 for g in groups):
        return False
    french = len(groups) == 5 and all(len(g) == 2 for g in groups) and groups[0][0] == "0"
    in_list = bool(_LIST_BEFORE.search(text[max(0, start - 6) : start]) or _LIST_AFTER.match(text[end : end + 6]))
    return not french or in_list


def _phone_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []

    def add(s: int, e: int) -> None:
        if (
            not any(s < e2 and s2 < e for s2, e2 in spans)
            and _phone_context_ok(text, s, e)
            and not _number_list(text, s, e)
        ):
            spans.append((s, e))

    for cand in _CANDIDATE.finditer(text):  # libphonenumber only on phone-shaped digit runs: fast on prose
        groups = re.findall(r"\d+", cand.group())
        if (
            not 7 <= sum(map(len, groups)) <= 15
            or len(groups) > 6
            or sum(len(g) == 1 for g in groups) > 2
            or re.search(r"\.\d{5,}", cand.group())
        ):  # runs of decimals (vectors, measurements)
            continue
        lo, hi = max(0, cand.start() - 8), min(len(text), cand.end() + 8)  # keep the neighbours in view
        for region in PHONE_REGIONS:
            for m in _pn.PhoneNumberMatcher(text[lo:hi], region, leniency=_pn.Leniency.VALID):
                add(lo + m.start, lo + m.end)
        raw = cand.group().strip(" .-/")
        if (
            not raw.startswith("+")
            and len(groups) >= 2
            and not any(s < cand.end() and cand.start() < e for s, e in spans)
        ):
            for region in MORE_PHONE_REGIONS:  # the whole run, valid as a national number there
                try:
                    ok = _pn.is_valid_number(_pn.parse(raw, region))
                except _pn.NumberParseException:
                    ok = False
                if ok:
                    s = cand.start() + cand.group().index(raw)
                    add(s, s + len(raw))
                    break
    for mi in _INTL.finditer(text):
        raw = mi.group().rstrip(" ().-")
        try:
            ok = _pn.is_possible_number(_pn.parse(raw, None))
        except _pn.NumberParseException:
            ok = False
        if ok:
            add(mi.start(), mi.start() + len(raw))
    for mt in _TRUNK.finditer(text):
        for region in PHONE_REGIONS:
            try:
                num = _pn.parse(mt.group(), region)
            except _pn.NumberParseException:
                continue
            if _pn.is_possible_number(num) and 9 <= sum(c.isdigit() for c in mt.group()) <= 12:
                add(*mt.span())
                break
    return sorted(spans)


# --- IBANs ------------------------------------------------------------------------------------------------

IBAN_LENGTHS = dict(  # ISO 13616 registry: country → IBAN length
    AD=24,
    AE=23,
    AL=28,
    AT=20,
    AZ=28,
    BA=20,
    BE=16,
    BG=22,
    BH=22,
    BR=29,
    BY=28,
    CH=21,
    CR=22,
    CY=28,
    CZ=24,
    DE=22,
    DK=18,
    DO=28,
    EE=20,
    EG=29,
    ES=24,
    FI=18,
    FO=18,
    FR=27,
    GB=22,
    GE=22,
    GI=23,
    GL=18,
    GR=27,
    GT=28,
    HR=21,
    HU=28,
    IE=22,
    IL=23,
    IQ=23,
    IS=26,
    IT=27,
    JO=30,
    KW=30,
    KZ=20,
    LB=28,
    LC=32,
    LI=21,
    LT=20,
    LU=20,
    LV=21,
    MC=27,
    MD=24,
    ME=22,
    MK=19,
    MR=27,
    MT=31,
    MU=30,
    NL=18,
    NO=15,
    PK=24,
    PL=28,
    PS=29,
    PT=25,
    QA=29,
    RO=24,
    RS=22,
    SA=24,
    SC=31,
    SE=24,
    SI=19,
    SK=24,
    SM=27,
    ST=25,
    SV=28,
    TL=23,
    TN=24,
    TR=26,
    UA=29,
    VA=22,
    VG=24,
    XK=20,
)
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])[A-Za-z]{2}\d{2}(?=[ -]?[A-Za-z0-9])")


def iban_ok(value: str) -> bool:
    """An IBAN: a known country, that country's length and the ISO 7064 mod-97 check (``== 1``)."""
    s = re.sub(r"[ -]", "", value).upper()
    if IBAN_LENGTHS.get(s[:2]) != len(s) or not s.isalnum():
        return False
    return int("".join(str(int(c, 36)) for c in s[4:] + s[:4])) % 97 == 1


def _iban_spans(text: str) -> list[tuple[int, int]]:
    """IBANs in any case, compact or in groups separated by a space or a dash, checksum-validated: the span
    takes exactly the country's number of characters, so the word after it is never swallowed."""
    out, pos = [], 0
    while (m := _IBAN_START.search(text, pos)) is not None:
        pos = m.end()
        want, n, i = IBAN_LENGTHS.get(m.group()[:2].upper()), 4, m.end()
        if want is None:
            continue
        while i < len(text) and n < want:
            if text[i].isascii() and text[i].isalnum():
                n, i = n + 1, i + 1
            elif text[i] in " -" and i + 1 < len(text) and text[i + 1].isascii() and text[i + 1].isalnum():
                i += 1
            else:
                break
        if (
            n == want
            and not (i < len(text) and text[i].isascii() and text[i].isalnum())
            and iban_ok(text[m.start() : i])
        ):
            out.append((m.start(), i))
            pos = i
    return out


# Emails: the local part may hold an apostrophe (o'brien@) and any letters (josé@, 用户@), the domain too
# (correo.españa.es, 例子.广告); quotes around an address are not part of it.
EMAIL = (
    r"(?<![\w.+\-])(?<!\w')[\w!#$%&*+/=?^`{|}~\-](?:[\w.!#$%&'*+/=?^`{|}~\-]*[\w!#$%&*+/=?^`{|}~\-])?"
    r"@(?:[^\W_](?:[\w\-]*[^\W_])?\.)+[^\W\d_]{2,}(?![\w\-])"
)

register_pattern("email", EMAIL)
register_pattern("card", r"(?<![\d.,])\d(?:(?:[ .\-]|  )?\d){12,18}(?![\d]|[.,]\d)", card_ok)
register_detector("iban", _iban_spans)
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
