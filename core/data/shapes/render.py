"""The ``shapes`` renderer: scenes → images, surface normals and masks (:func:`render_scenes`).

Rendering is vectorised numpy over batches of scenes. Each scene samples its silhouette's
signed-distance template (:mod:`.templates`) bilinearly on a supersampled grid (at least 128² and at
least 2× the resolution). It computes normals, shading and the texture there, with analytic 1-pixel
edge ramps, and area-averages down to the output size. So a scene rendered at 128 and box-downsampled
to 32 closely matches the same scene rendered at 32. Results are deterministic (bit for bit on one
platform); :mod:`.cache` keeps them on disk.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core.data.base import DatasetError

from .scenes import BACKGROUNDS, COLORS, TEXTURES, Scenes
from .templates import _TEMPLATE_EXTENT, _TEMPLATE_SIZE, signed_distance_templates

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
