"""The metric registry: every metric has a definition record and a row-level function.

A row-level function takes ``(row, answer, env)`` and returns a value (float/bool/None), or
``(value, details)`` where ``details`` is a dict of extra per-row columns (``<name>.<key>``). ``None``
means "does not apply to this row" (e.g. no reference) and is left out of aggregates. Async functions
(LLM judges) are awaited. Names are ``family/metric``; aggregates add a stat: ``quality/f1/mean``.

Register with the decorator (the description is the ``description`` keyword, else the function's docstring)::

    @metric("quality/my_metric", higher_is_better=True, range=(0, 1))
    def my_metric(row, answer, env):
        '''what it measures, as MLflow scorers and docs show it'''

Kinds of metric that share keywords have a preset to spread into it: :data:`SCREEN_FLAG`, :data:`JUDGE_FLAG`.

**Tiers.** A detector (Honesty and Harm) says how it decides, in its ``tier``: ``screen`` (patterns and word
lists, instant), ``classifier`` (a model bundled in a package, in-process) or ``judge`` (an LLM through any
configured endpoint). One detector can have several tiers, each its own metric: the default tier keeps the plain
name (``harm/toxicity``), another is named ``<family>/<tier>_<metric>`` (``honesty/judge_groundedness``). A run
picks a tier with ``"<family>/<metric>@<tier>"`` (``metrics=["honesty/groundedness@judge"]``); see
:data:`DEFAULT_TIERS` and docs/metrics.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...errors import ConfigError
from ...options import check_options

# retrieval/* come from workbench.rag, conversation/* from workbench.conversations
FAMILIES = ("quality", "honesty", "harm", "cost", "latency", "retrieval", "conversation")


BINARY = "binary"  # MetricDef.kind of 0/1 metrics
TIERS = ("screen", "classifier", "judge")  # how a detector decides: patterns, a packaged model, an LLM

# Presets: the keywords a kind of metric shares, spread into metric(): ``@metric(name, higher_is_better=False,
# **SCREEN_FLAG)``
SCREEN_FLAG: dict[str, Any] = {"range": (0, 1), "kind": BINARY, "tier": "screen"}  # 0/1 from patterns
JUDGE_FLAG: dict[str, Any] = {"range": (0, 1), "kind": BINARY, "needs_llm": True, "tier": "judge"}  # an LLM's yes/no


@dataclass(frozen=True)
class MetricDef:
    name: str
    family: str
    needs_llm: bool
    higher_is_better: bool | None
    range: tuple[float | None, float | None]
    description: str
    kind: str = "numeric"  # "binary" (0/1) or "numeric"
    stats: tuple[str, ...] = ("mean",)
    requires: tuple[str, ...] = ()  # row columns the metric needs (else None)
    fn: Callable[..., Any] | None = field(default=None, compare=False, repr=False)
    on_error: str = "compute"  # a failed row: "fail" scores it worst (quality, honesty), "compute" asks fn
    failed: float | None = None  # what a failed row scores, when not the bad end of the range
    tier: str = ""  # detectors: "screen", "classifier" or "judge" (TIERS); "" for measurements
    base: str = ""  # the detector this tier implements ("honesty/groundedness"); "" = its own name
    # texts of a row the metric embeds whatever the answer (its references): embedded for many rows at once, in
    # batches, before those rows run (engine.JobFeed), so that a row's own call embeds only its answer
    prefetch: Callable[[dict], list[str]] | None = field(default=None, compare=False, repr=False)

    @property
    def worst(self) -> float | None:
        """The value a failed row scores when ``on_error == "fail"``: ``failed`` if set, else the bad end of the
        range (a similarity in [-1, 1] sets 0, "nothing in common": a failed row is not an opposite answer)."""
        if self.failed is not None:
            return self.failed
        lo, hi = self.range
        return lo if self.higher_is_better else hi

    @property
    def binary(self) -> bool:
        """A 0/1 metric (paired comparisons use McNemar and flips for these)."""
        return self.kind == BINARY

    def record(self) -> dict:
        """The definition record (no function), e.g. for docs and MLflow."""
        return {
            "name": self.name,
            "family": self.family,
            "needs_llm": self.needs_llm,
            "higher_is_better": self.higher_is_better,
            "range": list(self.range),
            "kind": self.kind,
            "stats": list(self.stats),
            "requires": list(self.requires),
            "description": self.description,
            "tier": self.tier,
            "detector": self.base or self.name,
        }

    @property
    def scorer_description(self) -> str:
        """The description with the tier named first (MLflow scorers, docs)."""
        return f"[{self.tier} tier] {self.description}" if self.tier else self.description


METRICS: dict[str, MetricDef] = {}


# How each family scores a row whose answer failed (timeout, 5xx, candidate exception): quality and honesty
# count it as a failure (the worst value), so failures never vanish from means; the others compute what they
# can (latency: the elapsed time; cost: what was spent; harm and retrieval: from what there is, else empty).
ON_ERROR = {"quality": "fail", "honesty": "fail"}


METRIC_OPTIONS = ("needs_llm", "kind", "stats", "requires", "on_error", "failed", "tier", "base", "prefetch")


def metric(name: str, *, higher_is_better: bool | None, range: tuple, description: str = "", **options):
    """Register a row-level metric function under ``name`` (``"<family>/<metric>"``) with what every metric
    states: its direction (``higher_is_better``; None: neither), ``range`` and ``description`` (default: the
    function's docstring, its lines joined by single spaces).

    Options (the other fields of :class:`MetricDef`; any other name is an
    :class:`~workbench.errors.UnknownOption` naming the valid ones):
    ``needs_llm`` (default False), ``kind`` (``"numeric"`` or ``"binary"``), ``stats`` (default ``("mean",)``),
    ``requires`` (row columns it needs), ``on_error`` (default: the family's, see :data:`ON_ERROR`), ``failed``
    (what a failed row scores), ``tier`` and ``base`` (see the module docstring), ``prefetch`` (``row -> texts``
    the metric will embed whatever the answer: embedded in batches ahead of the rows)."""
    check_options("metric", options, METRIC_OPTIONS)
    tier, base, on_error = options.get("tier", ""), options.get("base", ""), options.get("on_error")
    family = name.split("/")[0]
    if family not in FAMILIES or name.count("/") != 1:
        raise ValueError(f"metric name must be '<family>/<metric>' with family in {FAMILIES}: {name}")
    if tier and tier not in TIERS:
        raise ValueError(f"tier must be one of {TIERS}: {tier}")

    def deco(fn):
        said = description or " ".join((fn.__doc__ or "").split())
        if not said:
            raise ValueError(f"metric {name} needs a description: the description keyword or a docstring")
        METRICS[name] = MetricDef(
            name,
            family,
            options.get("needs_llm", False),
            higher_is_better,
            tuple(range),
            said,
            options.get("kind", "numeric"),
            tuple(options.get("stats", ("mean",))),
            tuple(options.get("requires", ())),
            fn,
            on_error or (ON_ERROR.get(family, "compute") if higher_is_better is not None else "compute"),
            options.get("failed"),
            tier,
            base if base != name else "",
            options.get("prefetch"),
        )
        return fn

    return deco


def get_metrics(names: list[str] | None = None, judge: bool = False) -> list[MetricDef]:
    """Metric definitions by name or family (``quality``); default: all that need no LLM (plus the judged
    ones when a judge is configured)."""
    load_all()
    if not names:
        return [m for m in METRICS.values() if judge or not m.needs_llm]
    out: list[MetricDef] = []
    for n in names:
        if "@" in n:
            out.append(tier_of(n))
        elif n in METRICS:
            out.append(METRICS[n])
        elif n in FAMILIES:
            out += [m for m in METRICS.values() if m.family == n and (judge or not m.needs_llm)]
        else:
            raise ConfigError(f"unknown metric '{n}': known are {sorted(METRICS)} or a family {FAMILIES}")
    needs = [m.name for m in out if m.needs_llm]
    if needs and not judge:
        raise ConfigError(f"metrics {needs} need an LLM judge: pass judge='endpoint:model' (--judge)")
    return list(dict.fromkeys(out))


def tier_of(spec: str) -> MetricDef:
    """``"honesty/groundedness@judge"`` -> the metric that implements that detector at that tier."""
    load_all()
    base, _, tier = spec.partition("@")
    found = {m.tier: m for m in METRICS.values() if (m.base or m.name) == base and m.tier}
    if tier not in found:
        raise ConfigError(
            f"no tier '{tier}' for '{base}': available are "
            f"{sorted(found) or 'none (not a detector)'}; tiers are {TIERS}"
        )
    return found[tier]


def tiers() -> dict[str, dict[str, str]]:
    """Per detector, its tiers and the metric name of each (the default tier has the detector's own name)."""
    load_all()
    out: dict[str, dict[str, str]] = {}
    for m in METRICS.values():
        if m.tier:
            out.setdefault(m.base or m.name, {})[m.tier] = m.name
    return out


def definitions():
    """All metric definition records as a DataFrame."""
    import pandas as pd

    load_all()
    return pd.DataFrame([m.record() for m in METRICS.values()])


def load_all() -> None:
    """Import every metric family module, so the registry holds them all."""
    from . import cost, harm, honesty, latency, quality  # noqa: F401 - registration side effects
