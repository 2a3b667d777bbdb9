"""The metric registry: every metric :func:`core.metrics.evaluate` can compute, declared once.

Each metric is registered by its own code (:mod:`core.metrics.measures`) with :func:`register`: its name
(what ``evaluate(metrics=[...])`` takes), the score keys it writes, each key's direction, unit, name in
words and meaning, and the function that computes it. Everything else reads directions and words from
here (``bench`` for its statistics and plots, ``demo`` for its legends)::

    from core.metrics.registry import direction, higher_is_better, meaning
    direction("fid"), higher_is_better("recall"), meaning("cond_acc_shape")

Directions: ``higher`` (more is better), ``lower`` (less is better) or ``two-sided`` (judged against the
real data's value at the same pool size, PROTOCOL.md rule 12: short of it more is better, past it the
images have left their condition).

Importing this module through the package (``core.metrics``) registers every metric first, so the
lookups always see all of them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from core.metrics.data import MetricsError

DIRECTIONS = ("higher", "lower", "two-sided")
INCEPTION = "inception_"  # prefix of a fidelity key measured on the standard Inception-v3's features
_PLACEHOLDER = re.compile(r"<[a-z_]+>")  # "cond_acc_<attribute>": a family of keys


@dataclass(frozen=True)
class ScoreKey:
    """One score key a metric writes (or a family of them: ``cond_acc_<attribute>``)."""

    key: str
    direction: str  # one of DIRECTIONS
    unit: str  # what the number counts ("fraction", "degrees", ...)
    label: str  # its name in words ("FID", "Inception score")
    meaning: str  # one sentence, for a reader, without a final full stop (callers punctuate)

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"score key {self.key!r}: direction must be one of {DIRECTIONS}, got {self.direction!r}")
        if not (self.unit and self.label and self.meaning):
            raise ValueError(f"score key {self.key!r}: unit, label and meaning must all be given")

    @property
    def pattern(self) -> re.Pattern:
        """The keys this entry covers: itself, or any text in place of its ``<placeholder>``."""
        parts = _PLACEHOLDER.split(self.key)
        return re.compile("(.+)".join(re.escape(p) for p in parts) + r"\Z")

    @property
    def is_family(self) -> bool:
        return bool(_PLACEHOLDER.search(self.key))


@dataclass(frozen=True)
class Metric:
    """A metric :func:`core.metrics.evaluate` computes: ``compute(run) -> {score key: value}`` from the
    evaluation's shared work (:class:`core.metrics.measures.EvalRun`).

    - ``default``: computed when the caller names no metrics.
    - ``conditional``: compares each image with its own text or label condition (meaningless, and
      refused, for a pipeline without one).
    - ``fidelity``: a torch-fidelity metric (IS, FID, KID, PRC): it can score a folder of images too, and
      with the standard Inception writes its keys again under ``inception_``.
    - ``classifier``: needs the dataset's evaluation classifier even when Inception features are asked for.
    - ``real_normals``: reads the real split's normal maps (loaded only when some metric asks).
    """

    name: str
    keys: tuple[ScoreKey, ...]
    compute: Callable[[Any], dict[str, float]]
    default: bool = True
    conditional: bool = False
    fidelity: bool = False
    classifier: bool = False
    real_normals: bool = False


_METRICS: dict[str, Metric] = {}  # name -> metric, in registration order (the order keys are written in)


def register(name: str, keys: tuple[ScoreKey, ...], *, default: bool = True, conditional: bool = False,
             fidelity: bool = False, classifier: bool = False, real_normals: bool = False) -> Callable:
    """Decorator registering ``compute(run) -> scores`` as metric ``name`` writing ``keys``.

    Raises:
        ValueError: the name, or one of its keys, is registered already, or it declares no key.
    """
    def add(compute: Callable[[Any], dict[str, float]]) -> Callable[[Any], dict[str, float]]:
        if name in _METRICS:
            raise ValueError(f"metric {name!r} is registered twice")
        if not keys:
            raise ValueError(f"metric {name!r} declares no score key")
        taken = {k.key for m in _METRICS.values() for k in m.keys} & {k.key for k in keys}
        if taken:
            raise ValueError(f"metric {name!r}: score keys {sorted(taken)} belong to another metric")
        _METRICS[name] = Metric(name, tuple(keys), compute, default, conditional, fidelity, classifier, real_normals)
        return compute
    return add


def names() -> tuple[str, ...]:
    """Every registered metric's name, in registration order."""
    return tuple(_METRICS)


def metric(name: str) -> Metric:
    """The registered metric ``name``.

    Raises:
        MetricsError: no such metric (the message lists the known ones).
    """
    if name not in _METRICS:
        raise MetricsError(f"unknown metric {name!r}; choose from {list(_METRICS)}")
    return _METRICS[name]


def metrics() -> tuple[Metric, ...]:
    return tuple(_METRICS.values())


def _find(key: str) -> tuple[Metric, ScoreKey] | None:
    """The metric and entry of score key ``key``: an exact key first, then a family (``cond_acc_<attribute>``)."""
    entries = [(m, k) for m in _METRICS.values() for k in m.keys]
    for m, k in entries:
        if not k.is_family and k.key == key:
            return m, k
    for m, k in entries:
        if k.is_family and k.pattern.match(key):
            return m, k
    return None


def is_score_key(key: str) -> bool:
    """Whether ``key`` is a score key some registered metric writes."""
    return _find(key) is not None


def _lookup(key: str) -> tuple[Metric, ScoreKey]:
    found = _find(key)
    if found is None:
        known = [k.key for m in _METRICS.values() for k in m.keys]
        raise MetricsError(f"{key!r} is not a score key of core.metrics.evaluate; known keys: {known}")
    return found


def spec(key: str) -> ScoreKey:
    """The registry entry of score key ``key``; for a key of a family (``cond_acc_shape`` of
    ``cond_acc_<attribute>``), the family's entry with the key's own text in place of the placeholder.

    Raises:
        MetricsError: no registered metric writes ``key`` (the message lists the known keys).
    """
    entry = _lookup(key)[1]
    if not entry.is_family:
        return entry
    part = entry.pattern.match(key).group(1)
    fill = lambda text: _PLACEHOLDER.sub(part, text)  # noqa: E731
    return ScoreKey(key, entry.direction, entry.unit, fill(entry.label), fill(entry.meaning))


def owner(key: str) -> str:
    """The name of the metric that writes score key ``key`` (``recall`` → ``prc``, ``inception_fid`` → ``fid``)."""
    return _lookup(key)[0].name


def direction(key: str) -> str:
    """``"higher"``, ``"lower"`` or ``"two-sided"``: which values of score key ``key`` are better."""
    return spec(key).direction


def higher_is_better(key: str) -> bool:
    """Whether more is better on score key ``key``. A two-sided key counts as higher: short of the real
    data's value more is better; judging it as the distance to that value is the caller's (PROTOCOL.md
    rule 12)."""
    return spec(key).direction != "lower"


def meaning(key: str) -> str:
    """What score key ``key`` measures, in one sentence for a reader (no final full stop)."""
    return spec(key).meaning


def unit(key: str) -> str:
    return spec(key).unit


def label(key: str) -> str:
    """Score key ``key``'s name in words (``fid`` → ``FID``)."""
    return spec(key).label
