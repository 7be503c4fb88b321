"""The served app's output guard: an answer that repeats a confidential value — a canary string, or a run of
the system prompt's words — is blocked or redacted before it reaches the client, and the trace records it.

Configured in the app config::

    confidential:
      canaries: ["ZEBRA-7731"]     # strings that must never appear in an answer
      system_prompt: true          # nor 8 consecutive words of the system prompt
    output_guard: block            # block (the default when something is confidential) | redact | off

Detection is on normalised words (case and punctuation ignored), so "repeat the text above" is caught whatever
the spacing; a paraphrase is not (that would need a model). With the guard on, a streamed answer is checked whole
before it is sent (as one chunk): a leak cannot be taken back once streamed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

GUARD_ACTIONS = ("block", "redact", "off")
BLOCKED = "I can't share that: the answer repeated confidential instructions."
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass
class Finding:
    kind: str  # canary | system_prompt
    start: int  # character span in the answer
    end: int


@dataclass
class OutputGuard:
    """Leak detection for one app: ``canaries`` (substrings, case-insensitive) and ``protected`` texts (any
    ``min_words`` consecutive words of them)."""

    canaries: list[str] = field(default_factory=list)
    protected: list[str] = field(default_factory=list)
    action: str = "block"
    min_words: int = 8

    def __post_init__(self):
        self._ngrams = set()
        for text in self.protected:
            words = [w.lower() for w in _WORD.findall(text)]
            self._ngrams |= {tuple(words[i : i + self.min_words]) for i in range(len(words) - self.min_words + 1)}

    def find(self, text: str) -> list[Finding]:
        """Every leak in ``text``: canaries, and runs of protected words (merged spans)."""
        out = []
        low = text.lower()
        for c in self.canaries:
            start = low.find(c.lower())
            while c and start >= 0:
                out.append(Finding("canary", start, start + len(c)))
                start = low.find(c.lower(), start + 1)
        words = list(_WORD.finditer(text))
        n = self.min_words
        spans: list[list[int]] = []
        for i in range(len(words) - n + 1):
            if tuple(w.group().lower() for w in words[i : i + n]) in self._ngrams:
                s, e = words[i].start(), words[i + n - 1].end()
                if spans and s <= spans[-1][1]:
                    spans[-1][1] = e
                else:
                    spans.append([s, e])
        out += [Finding("system_prompt", s, e) for s, e in spans]
        return out

    def apply(self, text: str) -> tuple[str, list[Finding]]:
        """``(text to send, findings)``: unchanged when nothing leaked; else blocked or redacted."""
        found = self.find(text) if self.action != "off" else []
        if not found:
            return text, []
        if self.action == "block":
            return BLOCKED, found
        for f in sorted(found, key=lambda f: f.start, reverse=True):
            text = text[: f.start] + "[REDACTED]" + text[f.end :]
        return text, found


def guard_for(confidential: dict | None, action: str | None, system_prompt: str | None) -> OutputGuard | None:
    """The guard an app config asks for (None when nothing is confidential or ``output_guard: off``)."""
    confidential = confidential or {}
    canaries = [str(c) for c in confidential.get("canaries") or []]
    protected = [system_prompt] if confidential.get("system_prompt") and system_prompt else []
    action = action or ("block" if canaries or protected else "off")
    if action == "off" or not (canaries or protected):
        return None
    return OutputGuard(canaries=canaries, protected=protected, action=action)
