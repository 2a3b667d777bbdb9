"""What a model trained on ``shapes`` knows: the words of its training captions, and a notice for
a caption that asks for something those captions never said (an unknown word, two colours, two
shapes). Read from :mod:`core.data.shapes`, so it follows the data when the data changes."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from core.data import shapes

_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*")
# words of the caption templates that name no attribute (kept out of "the model understood: ...")
_FILLER = {"a", "an", "the", "no", "with", "pattern", "surface", "shape", "sign", "moon", "tile", "in",
           "on", "is", "and", "it", "of", "this", "there", "here", "shows", "picture", "set", "against",
           "backdrop", "background", "lying", "covered", "raised", "painted", "shown", "colored",
           "relief", "embossed", "markings"}


_BACKDROP = {"background", "backdrop"}


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Token sets of the ``shapes`` captions (phrases like "five-pointed star" split into words)."""

    words: frozenset[str]  # every word any training caption can contain
    shape: dict[str, str]  # word -> shape it names
    color: dict[str, str]  # word -> object colour
    background: dict[str, str]  # word -> background colour
    texture: dict[str, str]  # word -> texture
    size: dict[str, str]  # word -> size bin

    @property
    def attribute_words(self) -> set[str]:
        return set(self.shape) | set(self.color) | set(self.background) | set(self.texture) | set(self.size)


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    def table(words: dict[str, tuple[str, ...]], skip=()) -> dict[str, str]:
        return {t: value for value, phrases in words.items() for p in phrases for t in tokens(p)
                if t not in _FILLER and t not in skip}

    def last_word(words: dict[str, tuple[str, ...]]) -> dict[str, str]:  # "lemon yellow" -> yellow only
        return {tokens(p)[-1]: value for value, phrases in words.items() for p in phrases}

    texture = {**table(shapes.TEXTURE_ADJ), **table(shapes.TEXTURE_WITH, skip={"tiny", "thin", "fine"})}
    every = set()
    for t in shapes.CAPTION_TEMPLATES:
        every.update(tokens(re.sub(r"\{\w+\}", " ", t)))
    for words in (shapes.SHAPE_WORDS, shapes.COLOR_WORDS, shapes.BACKGROUND_WORDS, shapes.SIZE_WORDS,
                  shapes.TEXTURE_ADJ, shapes.TEXTURE_WITH):
        for phrases in words.values():
            for p in phrases:
                every.update(tokens(p))
    every.add("an")  # the renderer writes "an" before a vowel
    return Vocabulary(frozenset(every), table(shapes.SHAPE_WORDS), last_word(shapes.COLOR_WORDS),
                      last_word(shapes.BACKGROUND_WORDS), texture, table(shapes.SIZE_WORDS))


def notice(caption: str) -> str:
    """A short Markdown notice for ``caption``, or ``""`` when it reads like a training caption."""
    v = vocabulary()
    words = tokens(caption)
    if not words:
        return ("⚠️ **The model knows none of these words.** It was trained on English captions of "
                f"shapes; it will draw something, but not what you asked. {_known_short()}")
    unknown = list(dict.fromkeys(w for w in words if w not in v.words))
    known = [w for w in dict.fromkeys(words) if w in v.attribute_words]
    notes = []
    if not known:
        notes.append("⚠️ **This caption uses no word the model was trained on**, so the picture is a guess "
                     f"from whatever the sentence encoder finds closest. {_known_short()}")
    elif unknown:
        notes.append(f"ℹ️ The training captions never say *{', '.join(unknown[:8])}*: the model goes by "
                     f"*{', '.join(known)}*.")
    # "… on a white background": the word before background/backdrop asks for a background, not an object colour
    asked_bg = {words[i - 1] for i, w in enumerate(words) if w in _BACKDROP and i and words[i - 1] not in _FILLER}
    strange_bg = sorted(w for w in asked_bg if w not in v.background)
    if strange_bg:
        notes.append(f"ℹ️ The training images have only **{', '.join(shapes.BACKGROUNDS)}** backgrounds; "
                     f"*{', '.join(strange_bg)}* is not one of them, so the model will pick one of those.")
    colors = set(v.color[w] for w in words if w in v.color and w not in asked_bg)
    if len(colors) > 1:
        notes.append(f"ℹ️ Each training shape has **one colour** (a pattern is lighter and darker "
                     f"shades of it), so {' and '.join(sorted(colors))} will be mixed.")
    kinds = set(v.shape[w] for w in words if w in v.shape)
    if len(kinds) > 1:
        notes.append(f"ℹ️ Every training image shows **one shape**; {' and '.join(sorted(kinds))} "
                     "will be blended into one.")
    return "\n\n".join(notes)


def _known_short() -> str:
    return "It knows " + "; ".join(f"{k}: {', '.join(vals)}" for k, vals in known_values().items()) + "."


def known_values() -> dict[str, list[str]]:
    """Attribute → the values the data has, in the data's order (what the panel lists)."""
    return {"shapes": list(shapes.SHAPES), "colours": list(shapes.COLORS), "patterns": list(shapes.TEXTURES),
            "sizes": list(shapes.SIZE_BINS), "backgrounds": list(shapes.BACKGROUNDS)}


def panel_markdown() -> str:
    """The vocabulary panel: each attribute's values (and other words the captions use for them)."""
    rows = [("Shapes", shapes.SHAPE_WORDS), ("Colours", shapes.COLOR_WORDS), ("Patterns", shapes.TEXTURE_ADJ),
            ("Sizes", shapes.SIZE_WORDS), ("Backgrounds", shapes.BACKGROUND_WORDS)]
    lines = []
    for name, words in rows:
        vals = [value + (f" ({', '.join(w for w in ws if w != value)})" if any(w != value for w in ws) else "")
                for value, ws in words.items()]
        lines.append(f"- **{name}**: {'; '.join(vals)}")
    return "\n".join(lines)
