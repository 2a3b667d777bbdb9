"""The silhouettes of ``shapes`` and their signed-distance templates (:func:`signed_distance_templates`).

The signed distance of each silhouette is precomputed once as a 512² template (an exact Euclidean
distance transform of a 1024² mask), kept in memory and in ``core.cache.cache_dir("shapes")``;
:mod:`.render` samples it bilinearly.
"""
from __future__ import annotations

import math
import os

import numpy as np

from core.cache import cache_dir

from .scenes import SHAPES, VERSION

_TEMPLATE_SIZE = 512  # side of each signed-distance template (texels)
_TEMPLATE_EXTENT = 1.25  # templates cover [-E, E]² in shape units (the shape fits in [-1, 1]²)


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
