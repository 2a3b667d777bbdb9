"""S²-GAN tab (Style and Structure GAN, Wang & Gupta, ECCV 2016): sampled structures (surface-normal maps,
shown in colour) with their renderings; one structure kept while its style noise is re-rolled; and the
paper's "rendering engine" use: the normal map of a real ``shapes`` test image rendered with several style
noises.

The model is found on disk, by name, under one folder (:data:`DEFAULT_ROOT`, or ``$S2GAN_DEMO_CHECKPOINTS``,
or ``ctx.checkpoints["s2gan"]``): ``s2gan-shapes``, a full S²-GAN (Structure-GAN and Style-GAN, after the
joint phase), as ``scripts/ship_s2gan.sh`` writes it. With none, the tab says which command makes one.

The stack's pipeline takes no condition (it draws its own normals from ``z_structure``). To render a given
normal map the tab uses the rendering engine: ``s2gan-shapes-style`` beside it when there is one (a Style-GAN
trained alone on real normals with the FCN constraint, the paper's rendering engine before any joint
training), else a second pipeline around the stack's *own* Style-G (:func:`renderer`): the configuration of the
Style-GAN alone, whose condition is a structure map. Both go through one :class:`S2Batcher` (one worker thread
for the shared weights), so visitors who click at the same moment share forward passes and each gets the images
it would have got alone."""
from __future__ import annotations

import dataclasses
import logging
import os
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import gradio as gr
import torch

from core.data import class_names, load_dataset
from core.pipeline import Pipeline
from demo import health, validate
from demo.serving import SAVE_JS, SEED_LIMIT, Batcher, Sample, gallery_html, safe, seeds_from, to_png_array
from demo.tabs import Context, Tab

log = logging.getLogger("demo")

DEFAULT_ROOT = Path(__file__).resolve().parent.parent / "results" / "checkpoints"  # read at build time
NAME = "s2gan-shapes"  # the shipped model's folder under the root
STYLE_NAME = "s2gan-shapes-style"  # the rendering engine's folder, if one is shipped (else the stack's Style-G)
N = 8  # images per strip
DISPLAY = 96  # about this many pixels per image side (enlarged by whole pixels)
SEED_MAX = SEED_LIMIT - 1
POOL = 100  # real shapes test images offered to the rendering engine (indices 0 .. POOL - 1)
POOL_SPLIT = "test"  # images the model never trained on
PAPER = "https://arxiv.org/abs/1603.05631"

# One line: what makes the model this tab looks for.
MISSING = ("No S²-GAN model is on disk yet, so this tab cannot make images. `scripts/ship_s2gan.sh` trains one "
           "(the FCN normal predictor, then S²-GAN with it frozen: structure, style and joint phases at the quick "
           "preset on shapes) and writes it to `results/checkpoints/s2gan-shapes`.")
NOT_LOADED = "The S²-GAN model could not be loaded (the server log says why)."
NO_POOL = ("The real shapes images could not be prepared, so the rendering engine below is off (the server log "
           "says why); the other two parts work.")

INTRO = f"""[S²-GAN]({PAPER}) (Wang & Gupta, ECCV 2016) makes an image in two steps, with two GANs:

- the **Structure-GAN** draws the geometry from its noise **z_structure**: a *surface-normal map*, which gives
  for every pixel the direction the surface there faces;
- the **Style-GAN** renders that map from its own noise **z_style**: colour, texture and lighting.

While the Style-GAN trained, a third network held it to the geometry it was given: a fully convolutional
network (FCN), trained first to read normals from real images and then frozen, read normals back from each
rendering, and the Style-GAN was penalised where they disagreed with its input. Finally the two GANs were
trained together, the Structure-GAN's maps feeding the Style-GAN, which let each adapt to the other.

**Reading a normal map.** Its colour is the normal's direction: red is x (towards the right), green is y
(down), blue is z (towards you), each from −1 (none) to +1 (full). A flat surface facing you, like the
ground here, is lavender; a slope facing right is pinker, one facing left bluer, one facing down greener
and one facing up more violet. In `shapes` the objects are raised reliefs with flat tops and bevelled edges, so a
map is lavender with a coloured rim that traces the object's outline."""

# The line on how good the models are holds no measurement of its own: this lead, then each model's table row and
# its health gates on the validation split, read from results/<table>/health.csv (demo.health.quality_line).
QUALITY = ("They are small models trained on a CPU budget (the line above gives their size and steps); "
           "docs/s2gan.md records what was tried on the validation split to make the stack healthier.")
# The table rows the shipped models are (results/checkpoints/README.md: cells of seed 0 of the S²-GAN pilot)
ROWS = {NAME: ("the stack that draws the first two parts", "stack-joint"),
        STYLE_NAME: ("the rendering engine of the last part", "style-fcn")}
HEALTH_COMMAND = "python -m bench.ablations --paper s2gan --health"

SAMPLES = """### Structures and their renderings
Top row: structures drawn by the Structure-GAN. Bottom row: the Style-GAN's rendering of each one. Column i
uses seed + i for both noises, so the same seed always gives the same pair."""

RESTYLE = """### Keep a structure, re-roll its style
One structure (its z_structure seed fixed) rendered with eight style noises (z_style seeds s, s+1, ...). The
geometry stays; colour, texture and light change. **New structure** draws the next structure; **Re-roll
style** draws the next eight style seeds."""

REAL = f"""### A real structure, rendered (the paper's "rendering engine")
The Style-GAN does not need the Structure-GAN: give it any normal map and it renders one. Here the rendering
engine named above renders the normal map of a real `shapes` image (one of {POOL} test images, which no model
trained on), with eight style noises. Left: the real image and its normal map; right: the Style-GAN's
renderings of that normal map. The real image's colour and light are its own style, which the renderings do
not see."""


@dataclass
class S2Job:
    """One request's samples for :class:`S2Batcher`: sample ``i`` has noise ``noise[k][i]``; with
    ``structure`` (the normal maps to render, ``[n, 3, H, W]``), the Style-G renders it instead of the
    Structure-G drawing one."""

    noise: dict[str, torch.Tensor]  # {name: [n, ...]}
    structure: torch.Tensor | None = None  # [n, 3, H, W] unit normals
    future: Future = field(default_factory=Future)

    @property
    def n(self) -> int:
        return int(next(iter(self.noise.values())).shape[0])


class S2Batcher(Batcher):
    """:class:`~demo.serving.Batcher` for the stack and its renderer, which share the Style-G's weights:
    one worker thread; per pass, at most one ``generate`` of the stack (jobs without a structure) and one
    of the renderer (jobs with one), answered in the jobs' order."""

    def __init__(self, stack: Pipeline, render: Pipeline, **kwargs):
        super().__init__(stack, encode=None, **kwargs)
        self.render = render

    @torch.no_grad()
    def _forward(self, jobs: list[S2Job]) -> dict[str, torch.Tensor]:
        drawn = [j for j in jobs if j.structure is None]
        given = [j for j in jobs if j.structure is not None]
        outs: dict[int, dict[str, torch.Tensor]] = {}  # id(job) → its outputs
        for group, run in ((drawn, lambda noise, _: self.pipe.generate(noise=noise)),
                           (given, lambda noise, st: self.render.generate(structure=st, noise=noise))):
            if not group:
                continue
            noise = {k: torch.cat([j.noise[k] for j in group]) for k in group[0].noise}
            st = torch.cat([j.structure for j in group]) if group[0].structure is not None else None
            out, start = run(noise, st), 0
            for j in group:
                outs[id(j)] = {k: v[start:start + j.n] for k, v in out.items()}
                start += j.n
        return {k: torch.cat([outs[id(j)][k] for j in jobs]) for k in outs[id(jobs[0])]}


def renderer(stack: Pipeline) -> Pipeline:
    """The Style-GAN alone, sharing ``stack``'s Style-G (no copy): a pipeline conditioned on a structure map
    (``generate(structure=[N, 3, H, W], seeds=...)``, any side, resized to the model's), with the one noise
    ``z_style``. Its rendering of the stack's own normals with the stack's z_style is the stack's image.

    A seed opens one stream per sample that yields the model's noises in order (``seeded_noise``), so the
    stack's z_style for seed s is the *second* draw of stream s and this pipeline's, the first: pass it the
    stack's noise (:func:`style_noise`) to give a style seed the same meaning in both."""
    m = stack.cfg.model
    alone = dataclasses.replace(m, structure=False, structure_steps=0, joint_steps=0, fcn_weight=0.0)
    cfg = dataclasses.replace(stack.cfg, model=alone)
    model = stack.spec.build(alone, stack.info)  # a Style-G and Style-D of the same sizes, freshly made
    model.netG_style = stack.model.netG_style  # ... with the stack's trained Style-G in place of the fresh one
    return Pipeline(model, cfg, stack.info, stack.meta, stack.device)


def style_noise(stack: Pipeline, seeds: list[int]) -> dict[str, torch.Tensor]:
    """``{"z_style": [n, Z]}``: the z_style the stack draws for seeds ``seeds`` (with any structure), to render
    a given structure with the same style noise as the stack's samples of those seeds."""
    return {"z_style": stack.noise({"z_style": seeds})["z_style"]}


def _load(path: Path) -> Pipeline:
    pipe = Pipeline.from_checkpoint(path)
    if pipe.cfg.model_name != "s2gan" or pipe.noise_names != ("z_structure", "z_style"):
        raise ValueError(f"{pipe.cfg.model_name} at {path} is not a full S²-GAN (Structure-GAN and Style-GAN)")
    return pipe


def _load_renderer(path: Path, stack: Pipeline) -> Pipeline:
    """A Style-GAN trained alone (condition: a structure map; noise: z_style of the stack's size)."""
    pipe = Pipeline.from_checkpoint(path)
    if (pipe.cfg.model_name != "s2gan" or pipe.conditions != ("structure",) or pipe.noise_names != ("z_style",)
            or pipe.cfg.model.style_z_dim != stack.cfg.model.style_z_dim or pipe.resolution != stack.resolution):
        raise ValueError(f"{path} is not a Style-GAN alone of the stack's resolution and z_style size")
    return pipe


class S2GANDemo:
    """The model found under ``root`` (loaded once, at start-up), the real normal maps it renders, and the
    tab's actions.

    Args:
        root: folder holding ``s2gan-shapes`` (a checkpoint or run directory) and, optionally, the rendering
            engine ``s2gan-shapes-style``; default: ``$S2GAN_DEMO_CHECKPOINTS``, else :data:`DEFAULT_ROOT`.
    """

    def __init__(self, root: str | Path | None = None):
        root = Path(root or os.environ.get("S2GAN_DEMO_CHECKPOINTS") or DEFAULT_ROOT)
        self.batcher: S2Batcher | None = None
        self.pool = None  # the shapes test split at the model's resolution (POOL images)
        self.error: str | None = MISSING  # why the tab makes no images (None: it does)
        self.problems: list[str] = []  # one line per part that does not work while the rest does
        self.render_name: str | None = None  # the rendering engine's folder (None: the stack's own Style-G)
        path = root / NAME
        if not path.exists():
            return
        try:
            stack = _load(path)
            render = None
            if (root / STYLE_NAME).exists():
                try:
                    render, self.render_name = _load_renderer(root / STYLE_NAME, stack), STYLE_NAME
                except Exception:  # the stack's own Style-G still renders
                    log.exception("S²-GAN rendering engine %s could not be loaded", root / STYLE_NAME)
            self.batcher = S2Batcher(stack, render or renderer(stack))
        except Exception:  # the app must still start: the other tabs work without it
            log.exception("S²-GAN checkpoint %s could not be loaded", path)
            self.error = NOT_LOADED
            return
        self.error = None
        try:
            self.pool = load_dataset("shapes", split=POOL_SPLIT, resolution=stack.resolution,
                                     seed=stack.cfg.dataset_seed, size=POOL)
            self.shape_names = class_names("shapes", len(self.pool.class_names))
        except Exception:
            log.exception("the shapes images for the S²-GAN tab could not be prepared")
            self.problems.append(NO_POOL)

    @property
    def stack(self) -> Pipeline:
        return self._batcher().pipe

    @property
    def scale(self) -> int:
        return max(1, DISPLAY // self.stack.resolution)

    def _batcher(self) -> S2Batcher:
        if self.batcher is None:
            raise gr.Error(self.error)
        return self.batcher

    # ------------------------------------------------------------------------------------ generation
    def generate(self, structure_seeds: list[int], style_seeds: list[int]) -> dict[str, torch.Tensor]:
        """``{"image": [n, 3, R, R], "normals": [n, 3, R, R]}``: structure ``i`` drawn from seed
        ``structure_seeds[i]``, rendered with style seed ``style_seeds[i]`` (batched with other visitors)."""
        b = self._batcher()
        return b.run(S2Job(b.pipe.noise({"z_structure": structure_seeds, "z_style": style_seeds})))

    def render(self, normals: torch.Tensor, style_seeds: list[int]) -> dict[str, torch.Tensor]:
        """The Style-G's renderings of the given unit normals ``[n, 3, H, W]`` with style seeds
        ``style_seeds`` (resized to the model's side): ``{"image", "normals"}`` as :meth:`generate`. A style
        seed is the same noise here as in :meth:`generate` (:func:`style_noise`)."""
        b = self._batcher()
        return b.run(S2Job(style_noise(b.pipe, style_seeds), structure=normals.float()))

    def real_item(self, index: int) -> dict:
        """Real ``shapes`` test image ``index``: ``{"image": [3, R, R], "normals": [3, R, R], "label": int}``."""
        self._batcher()
        if self.pool is None:
            raise gr.Error(NO_POOL)
        return self.pool.item(index, keys=("image", "normals", "label"))

    def _figures(self, images: torch.Tensor, captions: list[str], names: list[str]) -> list[Sample]:
        return [Sample(to_png_array(x, self.scale), c, f) for x, c, f in zip(images, captions, names)]

    def samples(self, seed) -> str:
        """→ HTML: :data:`N` structures (seeds ``seed, seed+1, ...``, both noises from sample ``i``'s seed)
        above their renderings."""
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        seeds = seeds_from(seed, N)
        out = self.generate(seeds, seeds)
        caps = [f"seed {s}" for s in seeds]
        return (gallery_html("Structures (normal maps)", self._figures(
                    out["normals"], caps, [f"s2gan_structure_seed-{s}.png" for s in seeds]), columns=N,
                    css_class="phone4", alt="S²-GAN structure (normal map),")
                + gallery_html("Their renderings", self._figures(
                    out["image"], caps, [f"s2gan_image_seed-{s}.png" for s in seeds]), columns=N, css_class="phone4",
                    alt="S²-GAN rendering,"))

    def restyle(self, structure, style) -> str:
        """→ HTML: the structure of seed ``structure`` and its renderings with style seeds
        ``style, style+1, ...``."""
        structure = validate.integer(structure, 0, SEED_MAX, "Structure seed")
        style = validate.integer(style, 0, SEED_MAX, "Style seed")
        styles = seeds_from(style, N)
        out = self.generate([structure] * N, styles)
        return (gallery_html(f"Structure seed {structure}", self._figures(
                    out["normals"][:1], [f"structure seed {structure}"],
                    [f"s2gan_structure_seed-{structure}.png"]), columns=N, css_class="phone4",
                    alt="S²-GAN structure (normal map),")
                + gallery_html("Rendered with eight style noises", self._figures(
                    out["image"], [f"style seed {s}" for s in styles],
                    [f"s2gan_structure-{structure}_style-{s}.png" for s in styles]), columns=N, css_class="phone4",
                    alt=f"S²-GAN rendering of structure {structure},"))

    def new_structure(self, structure, style) -> tuple[int, str]:
        """→ (structure seed + 1, :meth:`restyle`)."""
        structure = (validate.integer(structure, 0, SEED_MAX, "Structure seed") + 1) % SEED_LIMIT
        return structure, self.restyle(structure, style)

    def reroll_style(self, structure, style) -> tuple[int, str]:
        """→ (style seed + :data:`N`: the next eight seeds, :meth:`restyle`)."""
        style = (validate.integer(style, 0, SEED_MAX, "Style seed") + N) % SEED_LIMIT
        return style, self.restyle(structure, style)

    def real(self, index, style) -> str:
        """→ HTML: real ``shapes`` test image ``index`` and its normal map, then the Style-G's renderings of
        that normal map with style seeds ``style, style+1, ...``."""
        index = validate.integer(index, 0, POOL - 1, "Image number")
        style = validate.integer(style, 0, SEED_MAX, "Style seed")
        item = self.real_item(index)
        styles = seeds_from(style, N)
        out = self.render(item["normals"][None].expand(N, -1, -1, -1), styles)
        shape = self.shape_names[item["label"]]
        stem = f"shapes_test-{index}"
        return (gallery_html(f"Real test image {index}: {shape}", self._figures(
                    torch.stack([item["image"], item["normals"]]), ["the image", "its normal map"],
                    [f"{stem}.png", f"{stem}_normals.png"]), columns=N, css_class="phone4", alt=f"Real {shape},")
                + gallery_html("Its normal map, rendered by the Style-GAN", self._figures(
                    out["image"], [f"style seed {s}" for s in styles],
                    [f"s2gan_{stem}_style-{s}.png" for s in styles]), columns=N, css_class="phone4",
                    alt=f"S²-GAN rendering of a real {shape},"))

    def next_real(self, index, style) -> tuple[int, str]:
        """→ (the next image number, wrapping to 0 after the last; :meth:`real`)."""
        index = (validate.integer(index, 0, POOL - 1, "Image number") + 1) % POOL
        return index, self.real(index, style)

    def reroll_real(self, index, style) -> tuple[int, str]:
        """→ (style seed + :data:`N`, :meth:`real`)."""
        style = (validate.integer(style, 0, SEED_MAX, "Style seed") + N) % SEED_LIMIT
        return style, self.real(index, style)

    def first_view(self) -> tuple[str, str, str]:
        """(samples, restyle, real) before any click: every seed and the image number 0."""
        if self.batcher is None:
            return "", "", ""
        views = []
        for make in (lambda: self.samples(0), lambda: self.restyle(0, 0), lambda: self.real(0, 0)):
            try:
                views.append(make())
            except Exception:  # the app still starts; the first click will say what is wrong
                log.exception("S²-GAN's first view could not be made")
                views.append("")
        return tuple(views)

    def quality(self, results: Path) -> str:
        """One line on how good the loaded models are: the stack's table row and, when it is loaded, the rendering
        engine's (:data:`ROWS`), with their health gates in the S²-GAN table under ``results``."""
        if self.batcher is None:
            return ""
        folder = health.table_folder(results, "s2gan", self.stack.cfg.dataset)
        names = [NAME] + ([self.render_name] if self.render_name else [])
        return health.quality_line([(ROWS[n][0], folder, ROWS[n][1]) for n in names], HEALTH_COMMAND, QUALITY)

    def describe(self) -> str:
        if self.batcher is None:
            return ""
        c = self.stack.cfg
        m = c.model
        size = m.structure_size or c.resolution
        engine = (f"The rendering engine (last part) is `{self.render_name}`, a Style-GAN trained alone on real "
                  f"normals with the FCN constraint ({self.batcher.render.cfg.model.style_steps:,} steps)"
                  if self.render_name else "The rendering engine (last part) is the stack's own Style-GAN")
        return (f"Model here: `{NAME}` ({c.resolution}×{c.resolution} images from {size}×{size} structures, "
                f"{c.preset} preset: {m.structure_steps:,} Structure-GAN, {m.style_steps:,} Style-GAN and "
                f"{m.joint_steps:,} joint steps). {engine}. The images are enlarged by whole pixels.")


def _section(text: str, boxes: tuple[dict, dict], buttons: tuple[tuple[str, str], ...], actions: tuple, value: str,
             api_name: str, on: bool, events: dict) -> None:
    """One strip of the tab: its explanation, two number boxes (a, b), three buttons and the strip (HTML).
    ``buttons``: (label, id) of "step a", "step b" and "show"; ``actions``: ``(a, b) → (a', html)``,
    ``(a, b) → (b', html)`` and ``(a, b) → html``; Enter in a box shows too. The strip's id is
    ``s2gan-<show id>-strip``; only "show" is in the API (``api_name``)."""
    gr.Markdown(text)
    with gr.Row():
        a, b = (gr.Number(value=0, precision=0, minimum=0, interactive=on, **box) for box in boxes)
    with gr.Row():
        step_a, step_b, show = (gr.Button(label, elem_id=f"s2gan-{i}", interactive=on) for label, i in buttons)
    html = gr.HTML(value, elem_id=f"s2gan-{buttons[2][1]}-strip", js_on_load=SAVE_JS, min_height=60)
    next_a, next_b, make = (safe(f) for f in actions)
    show.click(make, [a, b], [html], api_name=api_name, **events)
    for box in (a, b):
        box.submit(make, [a, b], [html], api_visibility="private", **events)
    step_a.click(next_a, [a, b], [a, html], api_visibility="private", **events)
    step_b.click(next_b, [a, b], [b, html], api_visibility="private", **events)


def build(ctx: Context) -> None:
    """Add the tab's components and events to the enclosing ``gr.Blocks``."""
    model = S2GANDemo(ctx.checkpoints.get("s2gan"))
    ctx.models["s2gan"] = model
    samples0, restyle0, real0 = model.first_view()
    on = model.batcher is not None
    real_on = on and model.pool is not None
    events = dict(concurrency_limit=ctx.max_visitors, concurrency_id="s2gan")

    with gr.Tab("S²-GAN"):
        gr.Markdown(INTRO + ("\n\n" + model.describe() if on else ""))
        if on:
            gr.Markdown(model.quality(ctx.results), elem_id="s2gan-quality")
        if model.error or model.problems:
            gr.Markdown("\n\n".join(f"⚠️ {m}" for m in [model.error, *model.problems] if m), elem_id="s2gan-notice")

        gr.Markdown(SAMPLES)
        with gr.Row():
            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=SEED_MAX, interactive=on,
                             info="Column i uses seed + i for z_structure and z_style.")
            btn = gr.Button("Samples", variant="primary", elem_id="s2gan-samples", interactive=on)
        grid = gr.HTML(samples0, elem_id="s2gan-grid", js_on_load=SAVE_JS, min_height=60)
        btn.click(safe(model.samples), [seed], [grid], api_name="s2gan_samples", **events)
        seed.submit(safe(model.samples), [seed], [grid], api_visibility="private", **events)

        _section(RESTYLE, (dict(label="Structure seed", maximum=SEED_MAX,
                                info="z_structure: the geometry, the same for every image."),
                           dict(label="Style seed", maximum=SEED_MAX, info="Image i uses style seed + i.")),
                 (("New structure", "new-structure"), ("Re-roll style", "reroll-style"), ("Show these seeds", "restyle")),
                 (model.new_structure, model.reroll_style, model.restyle), restyle0, "s2gan_restyle", on, events)
        _section(REAL, (dict(label="Real image", maximum=POOL - 1,
                             info=f"One of the first {POOL} shapes test images (0 to {POOL - 1})."),
                        dict(label="Style seed", maximum=SEED_MAX, info="Rendering i uses style seed + i.")),
                 (("Next image", "next-real"), ("Re-roll style", "reroll-real"), ("Render", "real")),
                 (model.next_real, model.reroll_real, model.real), real0, "s2gan_real", real_on, events)
        gr.Markdown(f"Paper: Xiaolong Wang and Abhinav Gupta, *Generative Image Modeling using Style and Structure "
                    f"Adversarial Networks*, ECCV 2016, [arXiv 1603.05631]({PAPER}).")


TAB = Tab("S²-GAN", build, model=True, order=30)
