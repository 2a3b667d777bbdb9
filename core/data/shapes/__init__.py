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

How the objects' size, silhouettes and colours were calibrated for difficulty is told in :mod:`.scenes`.

One module per concern, each importing only those above it:

- :mod:`.scenes`: the attribute vocabulary, the splits, :class:`Scenes` and :func:`sample_scenes`;
- :mod:`.templates`: the silhouettes and their signed-distance templates;
- :mod:`.render`: the renderer, scenes → images, normals and masks (:func:`render_scenes`);
- :mod:`.captions`: captions written from the attributes and read back (:func:`caption_attributes`);
- :mod:`.cache`: the on-disk render cache (:func:`rendered_split`);
- :mod:`.dataset`: :class:`ShapesDataset`, :data:`TRAITS`, and the registration as ``shapes``.

Importing this package registers the dataset; the names below are its public interface.
"""
from __future__ import annotations

from .cache import rendered_split
from .captions import (
    BACKGROUND_WORDS, CAPTION_TEMPLATES, COLOR_WORDS, N_CAPTIONS, SHAPE_WORDS, SIZE_WORDS, TEXTURE_ADJ,
    TEXTURE_WITH, caption_attributes, make_captions,
)
from .dataset import TRAITS, ShapesDataset, build_shapes, eval_size
from .render import Rendered, decode_normals, render_scenes, supersampling, texture_contrast, unresolvable_attributes
from .scenes import (
    ATTRIBUTES, BACKGROUNDS, COLORS, DEFAULT_SIZE, ELEVATION_RANGE, HELD_OUT, LOW_CONTRAST, POSITION_JITTER,
    SHAPES, SIZE_BINS, SIZE_RANGES, SPLITS, TEXTURES, VERSION, Scenes, sample_scenes,
)
from .templates import signed_distance_templates

__all__ = [
    # scenes
    "ATTRIBUTES", "BACKGROUNDS", "COLORS", "DEFAULT_SIZE", "ELEVATION_RANGE", "HELD_OUT", "LOW_CONTRAST",
    "POSITION_JITTER", "SHAPES", "SIZE_BINS", "SIZE_RANGES", "SPLITS", "TEXTURES", "VERSION", "Scenes",
    "sample_scenes",
    # templates, render
    "signed_distance_templates", "Rendered", "decode_normals", "render_scenes", "supersampling",
    "texture_contrast", "unresolvable_attributes",
    # captions
    "BACKGROUND_WORDS", "CAPTION_TEMPLATES", "COLOR_WORDS", "N_CAPTIONS", "SHAPE_WORDS", "SIZE_WORDS",
    "TEXTURE_ADJ", "TEXTURE_WITH", "caption_attributes", "make_captions",
    # cache, dataset
    "rendered_split", "ShapesDataset", "TRAITS", "build_shapes", "eval_size",
]
