"""The captions of ``shapes``: :func:`make_captions` writes them from a scene's attributes, and
:func:`caption_attributes` reads the attributes back from a caption."""
from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from .scenes import _BLOCK, ATTRIBUTES, SPLITS, Scenes

N_CAPTIONS = 6  # captions per image, each from a different template

SHAPE_WORDS = {
    "circle": ("circle", "disc"),
    "square": ("square", "square tile"),
    "triangle": ("triangle", "triangular shape"),
    "star": ("star", "five-pointed star"),
    "heart": ("heart", "heart shape"),
    "cross": ("cross", "plus sign"),
    "diamond": ("diamond", "rhombus"),
    "ring": ("ring", "hoop"),
    "crescent": ("crescent", "crescent moon"),
    "arrow": ("arrow", "right-pointing arrow"),
}
COLOR_WORDS = {
    "red": ("red", "scarlet"),
    "orange": ("orange",),
    "yellow": ("yellow", "lemon yellow"),
    "green": ("green", "grass green"),
    "blue": ("blue", "bright blue"),
    "purple": ("purple", "violet"),
    "pink": ("pink",),
    "white": ("white", "snow white"),
}
BACKGROUND_WORDS = {
    "black": ("black", "dark"),
    "gray": ("gray", "grey"),
    "beige": ("beige", "cream"),
    "navy": ("navy", "deep navy"),
}
SIZE_WORDS = {"small": ("small", "little"), "medium": ("medium-sized", "mid-sized"), "large": ("large", "big")}
TEXTURE_ADJ = {
    "plain": ("plain", "solid", "smooth", "unpatterned"),
    "stripes": ("striped", "stripy"),
    "dots": ("dotted", "polka-dot", "spotted"),
    "checks": ("checkered", "chequered", "checked"),
}
TEXTURE_WITH = {
    "plain": ("no pattern", "a plain smooth surface", "no markings"),
    "stripes": ("diagonal stripes", "thin stripes", "a striped pattern"),
    "dots": ("tiny dots", "polka dots", "a dotted pattern"),
    "checks": ("a checkerboard pattern", "fine checks", "a checkered pattern"),
}
# Every template names the shape and the colour; texture, size and background only in some.
CAPTION_TEMPLATES = (
    "a {size} {color} {shape} with {with}",
    "a {adj} {color} {shape} on a {bg} background",
    "this {shape} is {color} and {adj}",
    "a {color} {shape} with {with}, set against a {bg} backdrop",
    "the picture shows a {size} {adj} {shape} in {color}",
    "a {size} {color} {shape} lying on a {bg} surface",
    "an embossed {color} {shape} covered with {with}",
    "there is a {size} {shape} here; it is {color} with {with}",
    "a raised {shape} painted {color}, shown on a {bg} background",
    "a {size} {shape}, colored {color}, with {with}",
    "{adj} {color} {shape} in relief",
)
_ARTICLE = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


_SLOTS = (  # caption slot -> (attribute, words per attribute value)
    ("shape", "shape", SHAPE_WORDS),
    ("color", "color", COLOR_WORDS),
    ("size", "size_bin", SIZE_WORDS),
    ("adj", "texture", TEXTURE_ADJ),
    ("bg", "background", BACKGROUND_WORDS),
    ("with", "texture", TEXTURE_WITH),
)
_POSITIONAL_TEMPLATES = tuple(  # "{shape}" -> "{0}" etc., in _SLOTS order (faster formatting)
    re.sub(r"\{(\w+)\}", lambda m: "{%d}" % [sl[0] for sl in _SLOTS].index(m.group(1)), t)
    for t in CAPTION_TEMPLATES
)


def make_captions(scenes: Scenes, split: str, seed: int) -> tuple[list[list[str]], np.ndarray]:
    """Captions of every scene: ``N_CAPTIONS`` distinct templates each, with random synonyms.

    Draws come in blocks of 1024 scenes from ``SeedSequence([seed, split, block, 1])`` (a smaller
    set's captions are a prefix of a larger one's), vectorised; only the string formatting loops.

    Args:
        scenes: the scenes of a whole split, from :func:`sample_scenes`.
        split: ``train``, ``test`` or ``val`` (seeds the draws).
        seed: data seed.
    Returns:
        ``(captions, choice)``: ``N`` lists of ``N_CAPTIONS`` lowercase captions (none mentions the
        lighting or the position), and ``choice [N]`` int64, the index of each item's ``caption``.
    """
    n, k = len(scenes), N_CAPTIONS
    order, unit, choice = [], [], []
    for block in range((n + _BLOCK - 1) // _BLOCK):
        rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS[split], block, 1]))
        order.append(np.argsort(rng.random((_BLOCK, len(CAPTION_TEMPLATES))), axis=1)[:, :k])
        unit.append(rng.random((_BLOCK, k, len(_SLOTS))))
        choice.append(rng.integers(0, k, _BLOCK))
    order = np.concatenate(order)[:n]  # [N, k] template ids, distinct per item
    unit = np.concatenate(unit)[:n]  # [N, k, slots] uniform draws -> synonym index
    vocab: list[str] = []  # every synonym of every slot
    word = np.empty((n, k, len(_SLOTS)), dtype=np.int64)  # [N, k, slots] index into vocab
    for s, (_, attr, table) in enumerate(_SLOTS):
        first, count = [], []  # per attribute value: its first synonym in vocab, its number of synonyms
        for name in ATTRIBUTES[attr]:
            first.append(len(vocab))
            count.append(len(table[name]))
            vocab += table[name]
        v = getattr(scenes, attr)  # [N]
        word[:, :, s] = np.array(first)[v][:, None] + (unit[:, :, s] * np.array(count)[v][:, None]).astype(np.int64)
    fills = np.array(vocab, dtype=object)[word].tolist()  # [N][k][slots] str
    fmt = [t.format for t in _POSITIONAL_TEMPLATES]
    text = "\n".join(fmt[t](*f) for ts, fs in zip(order.tolist(), fills) for t, f in zip(ts, fs))
    flat = _ARTICLE.sub(r"\1n ", text).split("\n")  # a -> an before a vowel, in one pass
    captions = [flat[i * k : (i + 1) * k] for i in range(n)]
    return captions, np.concatenate(choice)[:n]


@lru_cache(maxsize=1)
def _caption_patterns() -> tuple[list[re.Pattern], dict[str, tuple[str, dict[str, int]]]]:
    """One regex per caption template, and slot → (attribute, word → value id)."""
    slots = {}
    for slot, attr, words in _SLOTS:
        values = list(ATTRIBUTES[attr])
        slots[slot] = (attr, {w: values.index(v) for v, ws in words.items() for w in ws})
    patterns = []
    for template in CAPTION_TEMPLATES:
        regex = ""
        for part in re.split(r"(\{\w+\})", template):
            m = re.fullmatch(r"\{(\w+)\}", part)
            if m:
                words = sorted(slots[m.group(1)][1], key=len, reverse=True)
                regex += f"(?P<{m.group(1)}>" + "|".join(re.escape(w) for w in words) + ")"
            else:  # make_captions turns the article "a" into "an" before a vowel
                regex += re.sub(r"\b([Aa])\\ ", r"\1n?\\ ", re.escape(part))
        patterns.append(re.compile(regex))
    return patterns, slots


def caption_attributes(caption: str) -> dict[str, int] | None:
    """The attributes a ``shapes`` caption states, as value ids (``None`` if no template matches).

    The inverse of :func:`make_captions`: ``"a red star on a navy background"`` style captions give
    exactly the attributes they name, e.g. ``{"texture": 0, "color": 0, "shape": 3, "background": 3}``
    for ``"a plain red star on a navy background"``.
    """
    patterns, slots = _caption_patterns()
    for p in patterns:
        m = p.fullmatch(caption.strip())
        if m:
            return {slots[slot][0]: slots[slot][1][word] for slot, word in m.groupdict().items()}
    return None
