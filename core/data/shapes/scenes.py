"""The scenes of ``shapes``: the attribute vocabulary, the splits, and :func:`sample_scenes`.

A scene is a set of sampled attributes (:class:`Scenes`); :mod:`.render` draws it, :mod:`.captions`
describes it.

Every tenth ``test`` (and ``val``) item shows one of the :data:`HELD_OUT` (shape, colour) pairs, which
``train`` never shows (the zero-shot split, see :mod:`core.data.shapes`).

Difficulty calibration. An earlier prototype drew objects at about 1/4 of the canvas, and a small
conditional GAN at the ``quick`` budget left SHAPE near chance. Objects here are large (size 45–75 % of
the canvas side), with bold silhouettes (no thin spikes: star inner radius 0.48, cross and arrow
arms ≥ 0.48 of the half-size thick). Their orientation is fixed (square and diamond differ by
rotation and aspect), and the position jitter is moderate (±8 % of the canvas). Sizes are drawn within three
bins with gaps between them (small 0.45–0.53, medium 0.56–0.64, large 0.67–0.75), so the size bin is
never ambiguous. Backgrounds that would hide a colour (white or yellow on beige, blue or purple on
navy) are never drawn.

Measured at the ``quick`` budget (StackGAN benchmark row ``stage1-hi``: a single-stage 64×64 GAN,
2,000 steps of batch 32, three training seeds, 2,000 ``test`` captions; ``results/stackgan/``), the
evaluation classifier reads shape 0.39 (chance 0.10), colour 0.94, texture 0.32 (chance 0.25), size
0.42 (chance 0.33) and background 0.94. Shape is learnable within the budget; texture and size only
weakly. Generators at 16–32 px read shape at about 0.22–0.25 (GAN-INT-CLS, the 16-px Stage-I).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.data.base import DatasetError

VERSION = 1  # bump whenever the scenes or the renderer's output change: it keys the on-disk caches

SHAPES = ("circle", "square", "triangle", "star", "heart", "cross", "diamond", "ring", "crescent", "arrow")
COLORS = {  # albedo in [0, 1] sRGB
    "red": (0.86, 0.12, 0.10),
    "orange": (0.96, 0.50, 0.05),
    "yellow": (0.95, 0.85, 0.10),
    "green": (0.14, 0.66, 0.18),
    "blue": (0.14, 0.34, 0.92),
    "purple": (0.56, 0.20, 0.78),
    "pink": (0.98, 0.52, 0.72),
    "white": (0.93, 0.93, 0.93),
}
BACKGROUNDS = {
    "black": (0.07, 0.07, 0.08),
    "gray": (0.45, 0.45, 0.47),
    "beige": (0.86, 0.80, 0.66),
    "navy": (0.08, 0.11, 0.32),
}
TEXTURES = ("plain", "stripes", "dots", "checks")
SIZE_BINS = ("small", "medium", "large")
SIZE_RANGES = ((0.45, 0.53), (0.56, 0.64), (0.67, 0.75))  # object side / canvas side, per bin
# (colour, background) pairs that are never drawn because the object would barely show
LOW_CONTRAST = {("white", "beige"), ("yellow", "beige"), ("blue", "navy"), ("purple", "navy")}
# Zero-shot pairs: never in train; every tenth test item. One per colour, 8 different shapes.
HELD_OUT = (
    ("circle", "purple"), ("square", "pink"), ("triangle", "white"), ("star", "blue"),
    ("heart", "green"), ("cross", "yellow"), ("diamond", "orange"), ("crescent", "red"),
)
POSITION_JITTER = 0.08  # max offset of the object centre from the canvas centre (canvas units)
ELEVATION_RANGE = (45.0, 65.0)  # light elevation above the image plane, degrees
# test_unseen = held-out items of test; val: scenes drawn like test's from their own stream (disjoint from
# train and test), for choosing presets and architectures: the test split is never used for that
SPLITS = {"train": 0, "test": 1, "test_unseen": 1, "val": 2}
DEFAULT_SIZE = {"train": 10_000, "test": 2_000, "test_unseen": 2_000, "val": 2_000}
# categorical attributes -> their values (attribute_ids columns follow this order)
ATTRIBUTES = {
    "shape": SHAPES,
    "color": tuple(COLORS),
    "texture": TEXTURES,
    "size_bin": SIZE_BINS,
    "background": tuple(BACKGROUNDS),
}
_BLOCK = 1024  # attributes are drawn in blocks of this many scenes, so a smaller set is a prefix


@dataclass(frozen=True)
class Scenes:
    """Sampled attributes of ``N`` scenes, as numpy arrays ``[N]`` (ids index the tuples above).

    ``size`` is the object side as a fraction of the canvas side; ``x``, ``y`` the object centre
    (fractions, ``y`` downwards); angles are in degrees (azimuth 0 = light from the right,
    90 = from the top).
    """

    shape: np.ndarray  # [N] int64, index into SHAPES
    color: np.ndarray  # [N] int64, index into COLORS
    texture: np.ndarray  # [N] int64, index into TEXTURES
    size_bin: np.ndarray  # [N] int64, index into SIZE_BINS
    background: np.ndarray  # [N] int64, index into BACKGROUNDS
    size: np.ndarray  # [N] float64
    x: np.ndarray  # [N] float64
    y: np.ndarray  # [N] float64
    light_azimuth: np.ndarray  # [N] float64, degrees
    light_elevation: np.ndarray  # [N] float64, degrees
    held_out: np.ndarray  # [N] bool

    def __len__(self) -> int:
        return len(self.shape)

    def subset(self, index: np.ndarray) -> "Scenes":
        """The scenes at ``index`` (an int array or boolean mask)."""
        return Scenes(**{k: v[index] for k, v in self.__dict__.items()})

    def attributes(self, i: int) -> dict:
        """Plain-python attribute dict of scene ``i``."""
        return {
            **{name: values[getattr(self, name)[i]] for name, values in ATTRIBUTES.items()},
            "size": float(self.size[i]),
            "x": float(self.x[i]),
            "y": float(self.y[i]),
            "light_azimuth": float(self.light_azimuth[i]),
            "light_elevation": float(self.light_elevation[i]),
            "held_out": bool(self.held_out[i]),
        }


def _combos() -> tuple[np.ndarray, np.ndarray]:
    """(seen, held-out) (shape id, colour id) pairs, each ``[K, 2]`` int64 in a fixed order."""
    colors = list(COLORS)
    held = {(SHAPES.index(s), colors.index(c)) for s, c in HELD_OUT}
    seen = [(s, c) for s in range(len(SHAPES)) for c in range(len(colors)) if (s, c) not in held]
    return np.array(seen, dtype=np.int64), np.array(sorted(held), dtype=np.int64)


def _background_table() -> tuple[np.ndarray, np.ndarray]:
    """Allowed backgrounds per colour: ``table [n_colors, n_bg]`` (padded) and ``count [n_colors]``."""
    colors, bgs = list(COLORS), list(BACKGROUNDS)
    table = np.zeros((len(colors), len(bgs)), dtype=np.int64)
    count = np.zeros(len(colors), dtype=np.int64)
    for ci, c in enumerate(colors):
        ok = [bi for bi, b in enumerate(bgs) if (c, b) not in LOW_CONTRAST]
        table[ci, : len(ok)] = ok
        count[ci] = len(ok)
    return table, count


def sample_scenes(split: str, size: int, seed: int) -> Scenes:
    """Draw the attributes of ``size`` scenes of ``split`` (``train``, ``test`` or ``val``) from ``seed``.

    Scenes are drawn in blocks of 1024 from ``SeedSequence([seed, split, block])``, so a smaller set
    is a prefix of a larger one. ``train`` never contains a :data:`HELD_OUT` pair; in ``test`` (and
    ``val``, drawn the same way from its own stream), item ``i`` is a held-out pair exactly when
    ``i % 10 == 9`` (so 8 of 80 pairs get 1/10 of the items).

    Returns:
        The scenes (attributes only; see :func:`render_scenes`).
    """
    if split not in ("train", "test", "val"):
        raise DatasetError(f"shapes: cannot sample split {split!r}; expected 'train', 'test' or 'val'")
    seen, held = _combos()
    bg_table, bg_count = _background_table()
    parts = []
    for block in range((size + _BLOCK - 1) // _BLOCK):
        rng = np.random.default_rng(np.random.SeedSequence([seed, SPLITS[split], block]))
        n = _BLOCK
        index = block * _BLOCK + np.arange(n)
        is_held = (index % 10 == 9) if split in ("test", "val") else np.zeros(n, dtype=bool)
        pick_seen = seen[rng.integers(0, len(seen), n)]  # [n, 2]
        pick_held = held[rng.integers(0, len(held), n)]  # [n, 2]
        combo = np.where(is_held[:, None], pick_held, pick_seen)
        color = combo[:, 1]
        size_bin = rng.integers(0, len(SIZE_BINS), n)
        lo = np.array([r[0] for r in SIZE_RANGES])[size_bin]
        hi = np.array([r[1] for r in SIZE_RANGES])[size_bin]
        parts.append(dict(
            shape=combo[:, 0],
            color=color,
            texture=rng.integers(0, len(TEXTURES), n),
            size_bin=size_bin,
            size=lo + (hi - lo) * rng.random(n),
            background=bg_table[color, (rng.random(n) * bg_count[color]).astype(np.int64)],
            x=0.5 + rng.uniform(-POSITION_JITTER, POSITION_JITTER, n),
            y=0.5 + rng.uniform(-POSITION_JITTER, POSITION_JITTER, n),
            light_azimuth=rng.uniform(0.0, 360.0, n),
            light_elevation=rng.uniform(*ELEVATION_RANGE, n),
            held_out=is_held,
        ))
    return Scenes(**{k: np.concatenate([p[k] for p in parts])[:size] for k in parts[0]})
