"""LLM-as-judge: rubric prompts with structured output (JSON schema) where the endpoint supports it,
tolerant parsing otherwise. Parse failures and judge errors are counted (per metric the runner reports
``…/judge_error_rate``) and never scored as model failures."""

from __future__ import annotations


import json
import re
from collections import Counter

from ..llm.client import LLMClient

JUDGE_SYSTEM = "You are a strict, fair evaluator. Reply with JSON only."


def parse_json(text: str) -> dict | None:
    """The first JSON object in ``text`` (bare, fenced or embedded in prose), else None."""
    text = (text or "").strip()
    try:
        obj = json.loads(text)
        return obj if isinstance(obj, dict) else None
    except ValueError:
        pass
    start = text.find("{")
    while start != -1:
        depth = 0
        for i in range(start, len(text)):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    try:
                        obj = json.loads(text[start:i + 1])
                        if isinstance(obj, dict):
                            return obj
                    except ValueError:
                        break
                    break
        start = text.find("{", start + 1)
    m = re.search(r'"?score"?\s*[:=]\s*([1-5])\b', text)
    return {"score": int(m.group(1))} if m else None


class Judge:
    """Calls a judge model through the workbench client (so judge calls are cached, retried, costed)."""

    def __init__(self, model: str, client: LLMClient, structured: bool | None = None, max_tokens: int = 512):
        self.model = model
        self.client = client
        self.structured = structured  # None: try JSON schema, fall back if the endpoint rejects it
        self.max_tokens = max_tokens
        self.spent_usd = 0.0
        self.calls = 0
        self.errors: Counter = Counter()

    async def ajson(self, prompt: str, schema: dict, name: str) -> tuple[dict | None, str | None]:
        """(parsed object, None) or (None, error class: a client error class or ``parse_error``)."""
        params = {"temperature": 0.0, "max_tokens": self.max_tokens, "stream": False}
        if self.structured is not False:
            params["response_format"] = {"type": "json_schema", "json_schema": {"name": name, "schema": schema}}
        rec = await self.client.achat(prompt, self.model, system=JUDGE_SYSTEM, **params)
        if rec.error == "bad_request" and self.structured is None and "response_format" in params:
            self.structured = False
            params.pop("response_format")
            rec = await self.client.achat(prompt, self.model, system=JUDGE_SYSTEM, **params)
        self.calls += 1
        if not rec.cache_hit:
            self.spent_usd += rec.cost_usd or 0.0  # a row's own spend is counted by its tab (llm.budget)
        if rec.error:
            self.errors[rec.error] += 1
            return None, rec.error
        data = parse_json(rec.text)
        if data is None:
            self.errors["parse_error"] += 1
            return None, "parse_error"
        return data, None
