"""``shapes``: an embedded dataset of procedurally rendered 2.5-D relief objects with captions.

The papers' datasets (CUB birds, Oxford flowers, NYUv2) cannot ship with the project, so the default
path trains on this one. Every image is a *scene* defined by sampled attributes and rendered at any
resolution from 16 to 256, so one dataset exercises all three papers at CPU scale:

- **StackGAN** (text → Stage-I sketch → Stage-II refinement): each image has 6 captions written from its
  attributes with varied templates, synonyms and word order. Lighting and exact position are never
  said, and size and background only sometimes, so one caption fits many images, as in CUB. The
  textures (stripes, dots, checks) repeat every 5–8 px at 64×64. Finer than about 2.6 px per period,
  a box filter would alias them into moiré, so their contrast fades out with resolution, as a
  mip-map's level of detail does. They vanish at 16×16, show faintly at 32×32 and fully at 64×64.
  The texture keeps the mean colour, so a faded texture looks plain. A Stage-I image can only get
  the silhouette and the colour right; the texture is the detail Stage-II has to add.
- **S²-GAN** (structure, then style): each object is a relief, a height map ``h`` built from the signed
  distance ``d`` to the silhouette edge with a rounded bevel, ``h'(d) = A·max(0, 1 - d/W)``. The
  surface normals are ``normalize(-∂h/∂x, -∂h/∂y, 1)``, with x to the right, y down the rows and z
  towards the viewer. The background is flat, ``(0, 0, 1)``. The
  colour image is Lambertian shading of those normals under a random light direction plus an ambient
  term, so appearance really is normals + style (colour, texture, light).
- **Conditional GANs** (SGAN, GAN-INT-CLS): ``label`` is the shape class. ``attribute_ids`` give
  integer ids for every categorical attribute, which conditional-accuracy metrics need. The caption
  grammar is read back here too (:func:`caption_attributes`), and :data:`TRAITS` tells metrics what
  they need of this dataset (see :class:`core.data.DatasetTraits`).

Zero-shot split: eight (shape, colour) pairs, one per colour, never occur in ``train``. Every tenth
``test`` item (index ``i % 10 == 9``) is one of them (``attributes['held_out'] = True``), and the split
``test_unseen`` holds only those items.

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

Rendering is vectorised numpy over batches of scenes. The signed distance of each silhouette is
precomputed once as a 512² template (an exact Euclidean distance transform of a 1024² mask). Each
scene samples the template bilinearly on a supersampled grid (at least 128² and at least 2× the
resolution). It computes normals, shading and the texture there, with analytic 1-pixel edge ramps,
and area-averages down to the output size. So a scene rendered at 128 and box-downsampled to 32
closely matches the same scene rendered at 32. Results are deterministic (bit for bit on one
platform) and cached under ``core.cache.cache_dir("shapes")``, keyed by
(``VERSION``, split, resolution, size, seed).
"""
from __future__ import annotations

import math
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from core.cache import cache_dir
from core.data import register
from core.data.base import DatasetError, DatasetTraits, to_image_tensor

VERSION = 1  # bump whenever the renderer's output changes: it keys the on-disk cache

# ----------------------------------------------------------------------------------- attributes
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
N_CAPTIONS = 6
# categorical attributes -> their values (attribute_ids columns follow this order)
ATTRIBUTES = {
    "shape": SHAPES,
    "color": tuple(COLORS),
    "texture": TEXTURES,
    "size_bin": SIZE_BINS,
    "background": tuple(BACKGROUNDS),
}
_BLOCK = 1024  # attributes are drawn in blocks of this many scenes, so a smaller set is a prefix

# ------------------------------------------------------------------------------------ rendering
_TEMPLATE_SIZE = 512  # side of each signed-distance template (texels)
_TEMPLATE_EXTENT = 1.25  # templates cover [-E, E]² in shape units (the shape fits in [-1, 1]²)
_BEVEL_SLOPE = 1.3  # A: height slope at the silhouette edge (normals tilt atan(1.3) ≈ 52°)
_BEVEL_WIDTH = 0.2  # W: bevel width in shape units (1 = half the object size); flat top inside
_AMBIENT, _DIFFUSE = 0.4, 0.6  # shade = ambient + diffuse · max(0, n·l); flat top ≈ 0.82–0.94
_TEXTURE_CONTRAST = 0.55  # albedo · (1 - c·(p - mean p)): keeps the mean colour, so at 16² it fades
_STRIPE_PERIOD = 1 / 12  # canvas units, diagonal stripes (5.3 px at 64², 1.3 px at 16²)
_DOT_PERIOD = 1 / 8  # canvas units, square grid of dots (8 px at 64²; coarser than checks to tell apart)
_DOT_RADIUS = 0.3 * _DOT_PERIOD
_CHECK_CELL = 1 / 18  # canvas units, 45°-rotated checkerboard cell (3.6 px at 64²)
_PATTERN_MEAN = {"plain": 0.0, "stripes": 0.5, "dots": math.pi * 0.3**2, "checks": 0.5}
# Period of each pattern's fundamental along the image axes (canvas units). A box filter cannot remove
# a pattern finer than 2 output pixels (it aliases into moiré), so, like a mip-map's level of detail,
# the contrast fades from 0 at 2.6 px to full at 4.6 px: textures vanish at 16², show at 32², full at 64².
_AXIS_PERIOD = {"stripes": _STRIPE_PERIOD * math.sqrt(2), "dots": _DOT_PERIOD,
                "checks": 2 * _CHECK_CELL * math.sqrt(2)}
_FADE_PX = (2.6, 4.6)


def texture_contrast(texture: str, resolution: int) -> float:
    """Texture contrast used at ``resolution`` (0 where the pattern would alias; see ``_FADE_PX``)."""
    if texture == "plain":
        return 0.0
    px = _AXIS_PERIOD[texture] * resolution
    fade = min(max((px - _FADE_PX[0]) / (_FADE_PX[1] - _FADE_PX[0]), 0.0), 1.0)
    return _TEXTURE_CONTRAST * fade


def unresolvable_attributes(resolution: int) -> set[str]:
    """Attributes images at ``resolution`` cannot show: ``{"texture"}`` where every texture fades
    out entirely (:func:`texture_contrast`; at 16×16 every texture renders plain), else none."""
    return set() if max(texture_contrast(t, resolution) for t in TEXTURES) > 0 else {"texture"}


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


# ------------------------------------------------------------------------ silhouettes (shape units)
# Shape units: the object spans [-1, 1]² (u right, v down); the canvas maps it to size/2 around (x, y).
def _polygon(u: np.ndarray, v: np.ndarray, verts: list[tuple[float, float]]) -> np.ndarray:
    """Even-odd point-in-polygon test for arrays ``u``, ``v``."""
    inside = np.zeros(u.shape, dtype=bool)
    for (u0, v0), (u1, v1) in zip(verts, verts[1:] + verts[:1]):
        if v0 == v1:
            continue
        crosses = (v0 > v) != (v1 > v)
        u_at = u0 + (v - v0) * (u1 - u0) / (v1 - v0)
        inside ^= crosses & (u < u_at)
    return inside


def _star_vertices() -> list[tuple[float, float]]:
    verts = []
    for k in range(10):
        r = 1.0 if k % 2 == 0 else 0.48  # bold star: inner radius 0.48 (a pentagram has 0.38)
        a = math.radians(-90 + 36 * k)
        verts.append((r * math.cos(a), r * math.sin(a) + 0.095))  # +0.095 centres the bounding box
    return verts


def _silhouette(name: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Boolean mask of shape ``name`` at shape-unit coordinates ``u``, ``v``."""
    r2 = u * u + v * v
    if name == "circle":
        return r2 <= 0.95**2
    if name == "square":
        return np.maximum(abs(u), abs(v)) <= 0.78
    if name == "triangle":
        return _polygon(u, v, [(0.0, -0.95), (1.0, 0.78), (-1.0, 0.78)])
    if name == "star":
        return _polygon(u, v, _star_vertices())
    if name == "heart":  # the classic heart curve (x² + y² - 1)³ ≤ x² y³, y up, fitted to [-0.95, 0.95]
        x, y = u / 0.834, -v / 0.834 + 0.118
        return (x * x + y * y - 1) ** 3 <= x * x * y**3
    if name == "cross":
        return ((abs(u) <= 0.3) & (abs(v) <= 0.92)) | ((abs(v) <= 0.3) & (abs(u) <= 0.92))
    if name == "diamond":
        return abs(u) / 0.74 + abs(v) / 0.97 <= 1.0
    if name == "ring":
        return (r2 <= 0.95**2) & (r2 >= 0.5**2)
    if name == "crescent":  # a disc minus an offset disc: horns point right
        return (r2 <= 0.95**2) & ((u - 0.42) ** 2 + (v + 0.12) ** 2 >= 0.74**2)
    if name == "arrow":  # pointing right
        return _polygon(u, v, [(-0.95, -0.24), (0.1, -0.24), (0.1, -0.74), (0.95, 0.0),
                               (0.1, 0.74), (0.1, 0.24), (-0.95, 0.24)])
    raise ValueError(f"unknown shape {name!r}")


_TEMPLATES: np.ndarray | None = None  # [len(SHAPES), T, T] float32, once per process


def _compute_templates() -> np.ndarray:
    from scipy.ndimage import distance_transform_edt

    n = 2 * _TEMPLATE_SIZE
    texel = 2 * _TEMPLATE_EXTENT / n
    c = -_TEMPLATE_EXTENT + (np.arange(n) + 0.5) * texel  # [n] texel centres
    u, v = np.meshgrid(c, c)  # [n, n] each
    out = np.empty((len(SHAPES), _TEMPLATE_SIZE, _TEMPLATE_SIZE), dtype=np.float32)
    for k, name in enumerate(SHAPES):
        m = _silhouette(name, u, v)  # [n, n] bool
        # distance to the nearest texel of the other kind, minus half a texel: zero on the edge
        sd = np.where(m, distance_transform_edt(m) - 0.5, 0.5 - distance_transform_edt(~m)) * texel
        out[k] = sd.reshape(_TEMPLATE_SIZE, 2, _TEMPLATE_SIZE, 2).mean(axis=(1, 3))
    return out


def signed_distance_templates() -> np.ndarray:
    """Signed distance to each silhouette's edge, in shape units (positive inside).

    Computed by an exact Euclidean distance transform of a 1024² mask (about 2 s), then kept in
    memory and in ``cache_dir("shapes")``.

    Returns:
        float32 ``[len(SHAPES), T, T]`` with ``T = 512`` covering ``[-1.25, 1.25]²`` (row = v, col = u).
    """
    global _TEMPLATES
    if _TEMPLATES is None:
        path = cache_dir("shapes") / f"templates_v{VERSION}.npy"
        expected = (len(SHAPES), _TEMPLATE_SIZE, _TEMPLATE_SIZE)
        try:
            t = np.load(path)
            t = t if t.shape == expected and t.dtype == np.float32 else None
        except (OSError, ValueError):
            t = None
        if t is None:
            t = _compute_templates()
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            try:
                with open(tmp, "wb") as f:
                    np.save(f, t)
                os.replace(tmp, path)
            except OSError:  # a read-only cache only costs the recomputation
                tmp.unlink(missing_ok=True)
        _TEMPLATES = t
    return _TEMPLATES


# ----------------------------------------------------------------------------------- the renderer
@dataclass(frozen=True)
class Rendered:
    """Rendered arrays for ``N`` scenes at resolution ``H = W``."""

    images: np.ndarray  # [N, H, W, 3] uint8
    normals: np.ndarray  # [N, 2, H, W] int8: round(127 · (n_x, n_y)); n_z = sqrt(1 - n_x² - n_y²) ≥ 0
    mask: np.ndarray  # [N, H, W] uint8 in {0, 1}: object covers at least half of the pixel


def decode_normals(stored: np.ndarray) -> np.ndarray:
    """Stored int8 ``[2, H, W]`` (see :class:`Rendered`) → float32 unit normals ``[3, H, W]``."""
    nxy = stored.astype(np.float32) * np.float32(1 / 127)  # [2, H, W]
    n = np.concatenate([nxy, np.sqrt(np.maximum(1 - (nxy * nxy).sum(0, keepdims=True), 0))])  # [3, H, W]
    return n / np.sqrt((n * n).sum(0, keepdims=True))


def supersampling(resolution: int) -> int:
    """Supersampling factor per axis: at least 2, and at least a 128² grid."""
    return max(2, math.ceil(128 / resolution))


def _downsample(x: np.ndarray, ss: int) -> np.ndarray:
    """Area-average ``[B, G, G]`` by ``ss`` per axis: sums of strided slices, columns then rows.

    (Several times faster than ``reshape(...).mean(axis=(2, 4))``, and the summation order is fixed.)
    """
    cols = x[:, :, 0::ss].copy()  # [B, G, G/ss]
    for j in range(1, ss):
        cols += x[:, :, j::ss]
    out = cols[:, 0::ss].copy()  # [B, G/ss, G/ss]
    for i in range(1, ss):
        out += cols[:, i::ss]
    return out * np.float32(1.0 / (ss * ss))


def _smooth_step(s: np.ndarray, px_per_unit: float) -> np.ndarray:
    """Anti-aliased step of a field ``s`` whose zero crossings move ``1/px_per_unit`` per pixel."""
    return np.clip(s * np.float32(px_per_unit) + np.float32(0.5), 0.0, 1.0)


def _pattern(texture: str, X: np.ndarray, Y: np.ndarray, G: int) -> np.ndarray:
    """Texture coverage ``p`` in [0, 1], ``[B, G, G]``, from canvas offsets ``X``, ``Y`` ``[B, G]``.

    Periodic fields are built from separable sines (``sin(a + b) = sin a cos b + cos a sin b``), and
    edges are 1-pixel ramps on the ``G × G`` grid.
    """
    if texture == "stripes":  # diagonal stripes with period _STRIPE_PERIOD across them
        w = np.float32(2 * math.pi / (_STRIPE_PERIOD * math.sqrt(2)))
        sx, cx, sy, cy = np.sin(w * X), np.cos(w * X), np.sin(w * Y), np.cos(w * Y)
        s = sx[:, None, :] * cy[:, :, None] + cx[:, None, :] * sy[:, :, None]  # sin(w (X + Y))
        return _smooth_step(s, _STRIPE_PERIOD * G / (2 * math.pi))
    if texture == "dots":
        ex = (X / _DOT_PERIOD - np.round(X / _DOT_PERIOD)) * np.float32(_DOT_PERIOD)  # [B, G]
        ey = (Y / _DOT_PERIOD - np.round(Y / _DOT_PERIOD)) * np.float32(_DOT_PERIOD)
        r = np.sqrt(ex[:, None, :] ** 2 + ey[:, :, None] ** 2)  # distance to the nearest dot centre
        return _smooth_step(np.float32(_DOT_RADIUS) - r, G)
    if texture == "checks":  # checkerboard rotated 45°: sign(sin(w(X+Y)) · sin(w(X-Y)))
        w = np.float32(math.pi / (_CHECK_CELL * math.sqrt(2)))
        sx, cx, sy, cy = np.sin(w * X), np.cos(w * X), np.sin(w * Y), np.cos(w * Y)
        a = sx[:, None, :] * cy[:, :, None] + cx[:, None, :] * sy[:, :, None]
        b = sx[:, None, :] * cy[:, :, None] - cx[:, None, :] * sy[:, :, None]
        k = np.float32(_CHECK_CELL * G / math.pi)
        return np.float32(0.5) + np.float32(0.5) * np.clip(a * k, -1, 1) * np.clip(b * k, -1, 1)
    raise ValueError(texture)


def _render_batch(sc: Scenes, texture: str, resolution: int) -> Rendered:
    """Render scenes that all have ``texture`` (see :func:`render_scenes`).

    Every field is computed on the supersampled grid in a window around each object, then area-averaged and
    pasted into the flat background.
    """
    f32 = np.float32
    ss = supersampling(resolution)
    G = resolution * ss  # supersampled grid side
    hs = (sc.size / 2).astype(f32)  # [B] half-size, canvas units
    win, (x0, X), (y0, Y) = _object_windows(sc, G, ss)  # X, Y [B, win]: offsets from the object centre
    d = _signed_distance(sc.shape, hs, X, Y)  # [B, win, win] signed distance, shape units
    inside = d > 0  # [B, win, win]
    nx, ny, nz = _bevel_normals(d, inside, hs, G)
    del d
    lx, ly, lz = _light_direction(sc)
    shade = np.maximum(nx * lx + ny * ly + nz * lz, 0) * f32(_DIFFUSE) + f32(_AMBIENT)
    m = inside.astype(f32)
    lit = shade * m  # [B, win, win] shading on the object, 0 elsewhere
    contrast = texture_contrast(texture, resolution)
    if contrast > 0:
        p = _pattern(texture, X, Y, G)
        p -= f32(_PATTERN_MEAN[texture])
        lit *= f32(1) - f32(contrast) * p
    lit, m, nx, ny, nz = _paste_windows((lit, m, nx, ny, nz), x0, y0, win, ss, resolution)  # [B, R, R] each
    return _compose(sc, lit, m, nx, ny, nz, lz)


def _object_windows(sc: Scenes, G: int, ss: int) -> tuple[int, tuple, tuple]:
    """The window each object of ``sc`` is rendered in, on the ``G × G`` grid supersampled by ``ss``.

    Its box plus 2 px, aligned to ``ss``, one width per batch: outside it d < 0, so every field is plain
    background there (same values, ~2× faster). Returns ``win, (x0, X), (y0, Y)``: the window side (grid
    px) and, per axis, the window starts ``[B]`` (grid px) and the canvas offsets of its pixel centres
    from the object centre ``[B, win]`` (``X`` per column, ``Y`` per row).
    """
    f32 = np.float32
    win = min(G, ss * math.ceil((float(sc.size.max()) * G + 4 + ss) / ss))  # window side (grid px)

    def window(centre):  # object centres [B] -> window starts [B] (grid px), offsets [B, win]
        start = np.clip(ss * np.floor(((centre - sc.size / 2) * G - 2) / ss), 0, G - win).astype(np.int64)
        t = ((start[:, None] + np.arange(win)).astype(f32) + f32(0.5)) / f32(G)  # canvas units
        return start, t - centre.astype(f32)[:, None]

    return win, window(sc.x), window(sc.y)


def _signed_distance(shape: np.ndarray, hs: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """Signed distance ``[B, win, win]`` (shape units, > 0 inside) to the silhouette templates ``shape``
    ``[B]`` of half-sizes ``hs`` ``[B]`` (canvas units), bilinear in the templates, at the canvas offsets
    ``X`` (columns) and ``Y`` (rows) ``[B, win]`` from the object centres."""
    f32 = np.float32
    T, E = _TEMPLATE_SIZE, _TEMPLATE_EXTENT
    flat = signed_distance_templates().reshape(-1)

    def texel(offset):  # canvas offset [B, win] -> (lower texel index, weight), both [B, win]
        f = (offset / hs[:, None] + f32(E)) * f32(T / (2 * E)) - f32(0.5)
        i = np.clip(np.floor(f), 0, T - 2)
        return i.astype(np.intp), np.clip(f - i, 0, 1).astype(f32)  # intp: take() needs no conversion

    iu, wu = texel(X)
    iv, wv = texel(Y)
    idx = (shape.astype(np.intp) * (T * T))[:, None, None] + (iv * T)[:, :, None] + iu[:, None, :]
    wu, wv = wu[:, None, :], wv[:, :, None]
    top = flat.take(idx)
    top += (flat.take(idx + 1) - top) * wu
    bot = flat.take(idx + T)
    bot += (flat.take(idx + T + 1) - bot) * wu
    return top + (bot - top) * wv


def _bevel_normals(d: np.ndarray, inside: np.ndarray, hs: np.ndarray, G: int) -> tuple[np.ndarray, ...]:
    """Unit surface normals ``nx, ny, nz`` ``[B, win, win]`` of the bevelled objects, from their signed
    distance ``d`` (``inside``: ``d > 0``; ``hs`` [B]: half-sizes; ``G``: grid side).

    Bevel: slope h'(d) = A·max(0, 1 - d/W) inside, 0 outside; ∇h = h'(d) ∇d (∇d by central differences).
    """
    f32 = np.float32
    slope = np.clip(f32(1) - d * f32(1 / _BEVEL_WIDTH), 0, 1) * f32(_BEVEL_SLOPE)
    slope *= inside
    step = (f32(0.5) * G * hs)[:, None, None]  # 1 / (2 · shape units per pixel)
    gx = np.zeros_like(d)
    gy = np.zeros_like(d)
    gx[:, :, 1:-1] = (d[:, :, 2:] - d[:, :, :-2]) * step
    gy[:, 1:-1, :] = (d[:, 2:, :] - d[:, :-2, :]) * step
    gx *= slope
    gy *= slope
    nz = f32(1) / np.sqrt(f32(1) + gx * gx + gy * gy)  # [B, win, win]
    return -gx * nz, -gy * nz, nz


def _light_direction(sc: Scenes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The unit vector towards each scene's light, ``lx, ly, lz`` ``[B, 1, 1]`` each (y points down)."""
    az = np.radians(sc.light_azimuth).astype(np.float32)[:, None, None]
    el = np.radians(sc.light_elevation).astype(np.float32)[:, None, None]
    return np.cos(el) * np.cos(az), -np.cos(el) * np.sin(az), np.sin(el)


def _paste_windows(parts, x0: np.ndarray, y0: np.ndarray, win: int, ss: int, resolution: int) -> list[np.ndarray]:
    """Area-average each window field of ``parts`` (lit, m, n_x, n_y, n_z, ``[B, win, win]`` each) and paste it
    at ``(y0, x0)`` into the ``[B, R, R]`` background: lit = m = n_x = n_y = 0, n_z = 1."""
    B, R = len(x0), resolution
    fields = [np.zeros((B, R, R), np.float32) for _ in range(4)] + [np.ones((B, R, R), np.float32)]
    w = win // ss
    for full, part in zip(fields, parts):
        part = _downsample(part, ss)  # [B, win/ss, win/ss]
        for b, (r0, c0) in enumerate(zip(y0 // ss, x0 // ss)):
            full[b, r0 : r0 + w, c0 : c0 + w] = part[b]
    return fields


def _compose(sc: Scenes, lit, m, nx, ny, nz, lz) -> Rendered:
    """The images, normals and masks from the ``[B, R, R]`` fields: the shaded object (``lit``, coverage ``m``)
    in its colour over the background, lit flat from ``lz`` ``[B, 1, 1]``."""
    f32 = np.float32
    norm = np.sqrt(nx * nx + ny * ny + nz * nz)
    shade_bg = (f32(_AMBIENT) + f32(_DIFFUSE) * lz)  # [B, 1, 1] flat background
    albedo = np.array(list(COLORS.values()), dtype=f32)[sc.color][:, :, None, None]  # [B, 3, 1, 1]
    bg = np.array(list(BACKGROUNDS.values()), dtype=f32)[sc.background][:, :, None, None]
    img = lit[:, None] * albedo + ((f32(1) - m) * shade_bg)[:, None] * bg  # [B, 3, R, R]
    img = np.rint(np.clip(img, 0, 1) * f32(255)).astype(np.uint8).transpose(0, 2, 3, 1)
    normals = np.rint(np.stack([nx / norm, ny / norm], axis=1) * f32(127)).astype(np.int8)  # [B, 2, R, R]
    return Rendered(images=img, normals=normals, mask=(m >= 0.5).astype(np.uint8))


def render_scenes(scenes: Scenes, resolution: int, batch: int | None = None) -> Rendered:
    """Render ``scenes`` at ``resolution × resolution`` (anti-aliased by supersampling).

    Each image depends only on its own scene, never on the batch it was rendered in, so the result is
    deterministic bit for bit.

    Args:
        scenes: attributes from :func:`sample_scenes`.
        resolution: output side, 16..256.
        batch: scenes per vectorised batch (default: about 2¹⁷ supersampled pixels, which keeps the
            working set in cache; the fastest setting measured).
    Returns:
        The rendered images, normals and masks.
    """
    _check_resolution(resolution)
    n = len(scenes)
    G = resolution * supersampling(resolution)
    batch = batch or max(1, (1 << 17) // (G * G))
    out = Rendered(
        images=np.empty((n, resolution, resolution, 3), dtype=np.uint8),
        normals=np.empty((n, 2, resolution, resolution), dtype=np.int8),
        mask=np.empty((n, resolution, resolution), dtype=np.uint8),
    )
    for tid, texture in enumerate(TEXTURES):  # one texture per batch: no per-item branching
        ids = np.flatnonzero(scenes.texture == tid)
        ids = ids[np.argsort(scenes.size[ids], kind="stable")]  # similar sizes: tight windows
        for start in range(0, len(ids), batch):
            sel = ids[start : start + batch]
            r = _render_batch(scenes.subset(sel), texture, resolution)
            out.images[sel], out.normals[sel], out.mask[sel] = r.images, r.normals, r.mask
    return out


def _check_resolution(resolution) -> None:
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 16 <= resolution <= 256:
        raise DatasetError(
            f"shapes: resolution must be an integer from 16 to 256, got {resolution!r}; "
            "pass e.g. resolution=64"
        )


# ------------------------------------------------------------------------------------- captions
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


# -------------------------------------------------------------------------------------- caching
def _cache_path(split: str, resolution: int, size: int, seed: int) -> Path:
    return cache_dir("shapes") / f"v{VERSION}_{split}_r{resolution}_n{size}_s{seed}"


_CACHE_FILES = ("images", "normals", "mask")


def _load_cached(path: Path, n: int, resolution: int) -> Rendered | None:
    """Memory-map a cached render; ``None`` if absent or not of the expected shape."""
    try:
        arrays = {k: np.load(path / f"{k}.npy", mmap_mode="r") for k in _CACHE_FILES}
    except (OSError, ValueError):
        return None
    r = resolution
    expected = {"images": (n, r, r, 3), "normals": (n, 2, r, r), "mask": (n, r, r)}
    if any(arrays[k].shape != expected[k] for k in _CACHE_FILES):
        return None
    return Rendered(**arrays)


def _save_cached(path: Path, rendered: Rendered) -> None:
    """Write atomically: into a temp dir, then rename (a concurrent writer's copy wins ties)."""
    tmp = Path(tempfile.mkdtemp(prefix=path.name + ".tmp", dir=path.parent))
    try:
        for k in _CACHE_FILES:
            np.save(tmp / f"{k}.npy", getattr(rendered, k))
        if path.exists():
            shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def rendered_split(split: str, resolution: int, size: int, seed: int, cache: bool = True) -> tuple[Scenes, Rendered]:
    """Scenes and their renders for ``split`` (``train``/``test``), from the disk cache when present.

    Args:
        split: ``train`` or ``test``.
        resolution: output side, 16..256.
        size: number of scenes.
        seed: data seed.
        cache: read and write ``cache_dir("shapes")``; ``False`` always renders afresh.
    Returns:
        ``(scenes, rendered)``; cached arrays are read-only memory maps.
    """
    scenes = sample_scenes(split, size, seed)
    if not cache:
        return scenes, render_scenes(scenes, resolution)
    path = _cache_path(split, resolution, size, seed)
    rendered = _load_cached(path, size, resolution)
    if rendered is None:
        _save_cached(path, render_scenes(scenes, resolution))
        rendered = _load_cached(path, size, resolution)
        if rendered is None:
            raise DatasetError(f"shapes: could not write the render cache at {path}; check that "
                               "STACKGAN_CACHE points to a writable directory")
    return scenes, rendered


# -------------------------------------------------------------------------------------- dataset
class ShapesDataset(Dataset):
    """Rendered relief shapes with captions, normals and masks (see the module docstring).

    Args:
        split: ``train``, ``test`` or ``test_unseen`` (the held-out-pair items of ``test``).
        resolution: image side, 16..256.
        seed: data seed: scenes, captions and caption choice.
        size: number of scenes (for ``test_unseen``: of the underlying ``test`` split).
        cache: use the on-disk render cache.
    """

    ATTRIBUTES = {name: list(values) for name, values in ATTRIBUTES.items()}

    def __init__(self, split: str, resolution: int, seed: int, size: int, cache: bool = True):
        base = "test" if split == "test_unseen" else split
        self.split, self.resolution, self.seed = split, resolution, seed
        scenes, self._rendered = rendered_split(base, resolution, size, seed, cache=cache)
        self._index = np.flatnonzero(scenes.held_out) if split == "test_unseen" else np.arange(size)
        self.scenes = scenes.subset(self._index)
        self.class_names = list(SHAPES)
        self.attribute_values = {k: list(v) for k, v in self.ATTRIBUTES.items()}
        s = self.scenes  # [N, 5] integer id per categorical attribute, in ATTRIBUTES order
        self.attribute_ids = np.stack([getattr(s, k) for k in self.ATTRIBUTES], axis=1)
        captions, choice = make_captions(scenes, base, seed)
        self._captions = [captions[j] for j in self._index]
        self._choice = choice[self._index]
        self._cache_key = (base, resolution, size, seed) if cache else None

    def __getstate__(self) -> dict:
        # Pickled for spawned DataLoader workers: ship the cache key, not hundreds of MB of arrays.
        state = dict(self.__dict__)
        if self._cache_key is not None:
            state["_rendered"] = None
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if self._rendered is None:
            base, resolution, size, _ = self._cache_key
            self._rendered = _load_cached(_cache_path(*self._cache_key), size, resolution)
            if self._rendered is None:  # the cache was removed meanwhile: render again
                self._rendered = rendered_split(*self._cache_key)[1]

    def __len__(self) -> int:
        return len(self._index)

    def all_captions(self) -> list[list[str]]:
        """All captions of every item, in item order."""
        return [list(c) for c in self._captions]

    def attribute_labels(self, i: int) -> dict[str, int]:
        """Integer id of each categorical attribute of item ``i`` (keys as :attr:`ATTRIBUTES`)."""
        return {k: int(v) for k, v in zip(self.ATTRIBUTES, self.attribute_ids[i])}

    @property
    def labels(self) -> np.ndarray:
        """``[N]`` class ids (the shape), without rendering any item."""
        return np.asarray(self.scenes.shape, dtype=np.int64)

    ITEM_KEYS = ("image", "label", "caption", "captions", "attributes", "normals", "mask")

    def item(self, i: int, keys=ITEM_KEYS) -> dict:
        """Only the entries ``keys`` of item ``i`` (the training loop asks for what its model uses, so
        normals and masks are decoded only when needed); values equal those of ``self[i]``."""
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for {len(self)} items")
        i = int(i) % len(self)
        j = self._index[i]
        r = self._rendered
        make = {
            "image": lambda: to_image_tensor(np.array(r.images[j])),  # [3, H, W] in [-1, 1]
            "label": lambda: int(self.scenes.shape[i]),
            "caption": lambda: self._captions[i][self._choice[i]],
            "captions": lambda: list(self._captions[i]),
            "attributes": lambda: self.scenes.attributes(i),
            "normals": lambda: torch.from_numpy(decode_normals(r.normals[j])),  # [3, H, W] unit
            "mask": lambda: torch.from_numpy(np.array(r.mask[j], dtype=np.float32))[None],  # [1, H, W]
        }
        return {k: make[k]() for k in keys if k in make}

    def __getitem__(self, i: int) -> dict:
        return self.item(i)


def eval_size(split: str, n: int) -> int:
    """The ``size`` option that yields ``n`` items of ``split`` (for ``test_unseen``, which holds
    every tenth ``test`` item: ``10 n``, at least the default 2,000 and at most 20,000)."""
    if split == "test_unseen":
        return min(max(10 * int(n), DEFAULT_SIZE["test"]), 20_000)
    return int(n)


TRAITS = DatasetTraits(
    shuffled=True,  # scenes are drawn at random, so the first n items are a random sample
    caption_attributes=caption_attributes,
    always_stated=("shape", "color"),  # every caption template names them
    unresolvable_attributes=unresolvable_attributes,
    eval_size=eval_size,
    classifier_resolution=64,  # textures are legible only from 64×64 (see texture_contrast)
    splits=tuple(SPLITS),
)


@register("shapes", traits=TRAITS, native_size=True)
def build_shapes(split: str = "train", resolution: int = 64, root: str | None = None, seed: int = 0,
                 size: int | None = None, **unknown) -> ShapesDataset:
    """Build the ``shapes`` dataset (``root`` is ignored: the data is rendered, not read).

    Args:
        split: ``train``, ``test``, ``test_unseen`` or ``val`` (for choosing presets: never ``test``).
        resolution: image side, 16..256.
        root: ignored.
        seed: data seed.
        size: number of scenes (default 10,000 for train, 2,000 for val, test and test_unseen's test).
        **unknown: ``cache`` (bool, default True) is the only other option.
    Raises:
        DatasetError: bad split, resolution, size or seed, or an unknown option.
    """
    cache = unknown.pop("cache", True)
    if unknown:
        raise DatasetError(
            f"shapes: unknown option(s) {sorted(unknown)}; the options are size (int) and cache (bool)"
        )
    if split not in SPLITS:
        raise DatasetError(f"shapes: unknown split {split!r}; choose one of {list(SPLITS)}")
    _check_resolution(resolution)
    size = DEFAULT_SIZE[split] if size is None else size
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise DatasetError(f"shapes: size must be a positive integer, got {size!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DatasetError(f"shapes: seed must be a non-negative integer, got {seed!r}")
    ds = ShapesDataset(split, int(resolution), int(seed), int(size), cache=bool(cache))
    if len(ds) == 0:
        raise DatasetError(f"shapes: test_unseen is empty for size={size}; every tenth test item is "
                           "held out, so pass size >= 10")
    return ds
