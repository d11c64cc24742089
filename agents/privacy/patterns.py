"""What counts as PII here: emails, phone numbers, payment card numbers, plus admin patterns.

Hand-written on purpose: the environment has no PII or phone-number library (`phonenumbers`
would be the better phone check), and the three kinds need only a regex and a digit check.
Each pattern finds candidates; its `accept` check throws out near misses (dates, prices,
order numbers) so redaction does not blank the very facts a rep asked about."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# A placeholder the vault hands out, e.g. <EMAIL_1> or <EMPLOYEE_ID_12>.
PLACEHOLDER = re.compile(r"<([A-Z][A-Z0-9_]*)_(\d+)>")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")

EMAIL = "EMAIL"
PHONE = "PHONE"
CARD = "CARD"

# E.164 allows at most 15 digits; national numbers with their trunk 0 have at least 9
# (8-digit runs are dates like 01.02.2024, 03-15-2024).
_PHONE_DIGITS = range(9, 16)
_CARD_DIGITS = range(13, 20)
# Not followed by more of a number: a letter, a colon (a time), a slash, or a separator
# with a digit behind it.
_END = r"(?![\w:/]|[.,\-]\d)"

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
_PHONE_RES = (
    # International: +47 912 34 567, +1 (555) 123-4567, +44 20 7946 0958, +4791234567.
    re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}" + _END),
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567.
    re.compile(r"(?<![\w+.-])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _END),
    # National with a trunk 0: 020 7946 0958, 06 12 34 56 78, 030 12345678, 0047 912 34 567.
    re.compile(r"(?<![\w+.-])(?:0\d{1,4}|\(0\d{1,4}\))(?:[ .-]?\d{2,8}){1,5}" + _END),
)
# 13 to 19 digits, optionally in groups split by single spaces or dashes.
_CARD_RE = re.compile(r"(?<![\w.-])\d(?:[ -]?\d){12,18}" + _END)


def digits(text: str) -> str:
    """Only the digits of `text`."""
    return "".join(char for char in text if char.isdigit())


def luhn_valid(number: str) -> bool:
    """The Luhn checksum every payment card number carries; most order numbers fail it."""
    total = 0
    for position, char in enumerate(reversed(number)):
        value = int(char)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def _is_card(text: str) -> bool:
    number = digits(text)
    return len(number) in _CARD_DIGITS and luhn_valid(number)


def _is_phone(text: str) -> bool:
    return len(digits(text)) in _PHONE_DIGITS


def _always(_text: str) -> bool:
    return True


@dataclass(frozen=True)
class Pattern:
    """One kind of PII: `kind` names its placeholders, `key` makes equal values one entry."""

    kind: str
    regexes: tuple[re.Pattern[str], ...]
    accept: Callable[[str], bool] = _always
    key: Callable[[str], str] = str


def _phone_key(text: str) -> str:
    return ("+" if text.startswith("+") else "") + digits(text)


BUILT_IN: tuple[Pattern, ...] = (
    Pattern(EMAIL, (_EMAIL_RE,), key=str.lower),
    Pattern(CARD, (_CARD_RE,), accept=_is_card, key=digits),
    Pattern(PHONE, _PHONE_RES, accept=_is_phone, key=_phone_key),
)


class PatternError(ValueError):
    """An admin-configured pattern is unusable; the message names it."""


def custom_patterns(configured: Mapping[str, str]) -> tuple[Pattern, ...]:
    """Compile admin patterns (name → regex); a bad name or regex raises PatternError."""
    built_in = {p.kind for p in BUILT_IN}
    patterns = []
    for name, regex in configured.items():
        if not _NAME.match(name):
            raise PatternError(
                f"pattern name {name!r} must start with a letter and use only letters, "
                "digits and _ (at most 31 characters)"
            )
        kind = name.upper()
        if kind in built_in:
            raise PatternError(f"pattern name {name!r} is built in already")
        try:
            compiled = re.compile(regex)
        except re.error as exc:
            raise PatternError(f"pattern {name!r} is not a valid regex: {exc}") from None
        if compiled.match(""):
            raise PatternError(f"pattern {name!r} matches the empty string")
        patterns.append(Pattern(kind, (compiled,)))
    return tuple(patterns)
