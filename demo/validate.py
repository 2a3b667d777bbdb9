"""Input checks shared by the tabs: every bad input becomes one clear message for the visitor."""
from __future__ import annotations

import unicodedata

import gradio as gr

MAX_CAPTION_CHARS = 500


def caption(text, name: str = "caption") -> str:
    """A usable caption, or ``gr.Error``. Warns (and goes on) when the text has characters the
    English sentence encoder has no words for (emoji, non-Latin scripts)."""
    if text is None or not isinstance(text, str):
        raise gr.Error(f"The {name} must be text.")
    text = " ".join(text.split())
    if not text:
        raise gr.Error(f"The {name} is empty: describe a shape, e.g. 'a striped red ring on a black background'.")
    if len(text) > MAX_CAPTION_CHARS:
        raise gr.Error(f"The {name} is {len(text):,} characters long; the limit is {MAX_CAPTION_CHARS}. "
                       "One or two sentences work best.")
    if any(not _latin(ch) for ch in text):
        gr.Warning(f"The {name} contains characters outside the Latin alphabet (emoji or other scripts). "
                   "The sentence encoder was trained on English, so they will mostly be ignored.")
    return text


def _latin(ch: str) -> bool:
    if ch.isascii():
        return True
    return unicodedata.category(ch).startswith("L") and "LATIN" in unicodedata.name(ch, "")


def integer(value, lo: int, hi: int, name: str) -> int:
    """An int in ``[lo, hi]``, or ``gr.Error`` (API callers can send anything)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise gr.Error(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.") from None
    if f != f or f != int(f) or not lo <= f <= hi:
        raise gr.Error(f"{name} must be a whole number from {lo} to {hi}; got {value!r}.")
    return int(f)


def flag(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in (0, 1):
        return bool(value)
    raise gr.Error(f"{name} must be true or false; got {value!r}.")
