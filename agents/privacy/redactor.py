"""Find PII in text and swap it for stable placeholders; a vault remembers what each stands for.

One vault per run: the same email becomes the same `<EMAIL_1>` in every message of the run, so
the model can still say "write to <EMAIL_1>", and `restore` puts the real value back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.privacy.patterns import BUILT_IN, PLACEHOLDER, Pattern, custom_patterns


@dataclass(frozen=True)
class Found:
    """One piece of PII in a text: where it is and what kind."""

    start: int
    end: int
    pattern: Pattern

    def overlaps(self, start: int, end: int) -> bool:
        """True when this span shares a character with start..end."""
        return self.start < end and start < self.end


@dataclass
class Vault:
    """Value ↔ placeholder for one run (or one exported record); never stored."""

    _by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _values: dict[str, str] = field(default_factory=dict)
    _counts: dict[str, int] = field(default_factory=dict)

    def placeholder(self, pattern: Pattern, value: str) -> str:
        """The placeholder of `value`: the one it already has, or the kind's next number."""
        key = (pattern.kind, pattern.key(value))
        if key not in self._by_key:
            number = self._counts.get(pattern.kind, 0) + 1
            self._counts[pattern.kind] = number
            token = f"<{pattern.kind}_{number}>"
            self._by_key[key] = token
            self._values[token] = value
        return self._by_key[key]

    def restore(self, text: str) -> str:
        """`text` with every placeholder of this vault replaced by its real value (others,
        e.g. one the model made up, stay as they are)."""
        if "<" not in text:
            return text
        return PLACEHOLDER.sub(lambda m: self._values.get(m.group(0), m.group(0)), text)

    def __len__(self) -> int:
        return len(self._values)


class Redactor:
    """Redacts emails, phone numbers, card numbers and any configured patterns."""

    def __init__(self, extra: tuple[Pattern, ...] = ()) -> None:
        self.patterns = BUILT_IN + extra

    @classmethod
    def with_patterns(cls, configured: Mapping[str, str]) -> Redactor:
        """Built-ins plus admin patterns (name → regex); a bad one raises PatternError."""
        return cls(custom_patterns(configured))

    def find(self, text: str) -> list[Found]:
        """The PII in `text`, left to right, without overlaps (the longer match wins; placeholders
        already in the text are never matched again)."""
        candidates = [
            Found(m.start(), m.end(), pattern)
            for pattern in self.patterns
            for regex in pattern.regexes
            for m in regex.finditer(text)
            if m.end() > m.start() and pattern.accept(m.group(0))
        ]
        taken = [m.span() for m in PLACEHOLDER.finditer(text)]
        chosen: list[Found] = []
        for found in sorted(candidates, key=lambda f: (f.start, f.start - f.end)):
            if not any(found.overlaps(start, end) for start, end in taken):
                chosen.append(found)
                taken.append((found.start, found.end))
        return chosen

    def redact(self, text: str, vault: Vault) -> str:
        """`text` with its PII replaced by the vault's placeholders."""
        found = self.find(text)
        if not found:
            return text
        parts, last = [], 0
        for item in found:
            value = text[item.start : item.end]
            parts += [text[last : item.start], vault.placeholder(item.pattern, value)]
            last = item.end
        parts.append(text[last:])
        return "".join(parts)

    def scrub(self, text: str) -> str:
        """Redact with a throwaway vault: for logs and exports, where nothing is restored."""
        return self.redact(text, Vault())


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """`value` (JSON-shaped) with `change` applied to every string in it; keys are kept."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, dict):
        return {key: map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [map_strings(item, change) for item in value]
    return value
