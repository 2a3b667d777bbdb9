"""StackGAN tab: a caption → Stage-I and Stage-II images; CA on/off; interpolation between captions;
what the model knows (its vocabulary and real training images).

Every request goes through the model's :class:`~demo.serving.Batcher`, so visitors who press
Generate at the same moment share one forward pass, and each gets the images it would have got
alone (up to float rounding: a batch of one can take another convolution kernel, ~1e-6)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import gradio as gr
import torch

from core.pipeline import Pipeline
from core.text import get_text_encoder
from demo import validate, vocabulary
from demo.serving import (SAVE_JS, SEED_LIMIT, Batcher, Job, Memo, Sample, gallery_html, safe, seeds_from, slug,
                          to_png_array)
from demo.tabs import Context, Tab

log = logging.getLogger("demo")

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "results" / "checkpoints" / "stackgan"
# Captions the data can express (one shape, one colour, at most one pattern, a background), picked
# among the shipped model's better results; the first one fills the first view.
EXAMPLES = [
    "a plain white arrow on a black background",
    "a pink ring on a gray background",
    "a striped red ring on a black background",
    "a plain green triangle on a black background",
    "a plain pink crescent on a navy background",
    "a white cross on a navy background",
    "a plain purple star on a gray background",
    "a checkered yellow square on a black background",
]
SHOWCASE = Path(__file__).resolve().parent.parent / "results" / "stackgan" / "showcase" / "scores.json"
DISPLAY = 128  # side of every image sent: Stage-I and Stage-II enlarged by whole pixels (nearest neighbour)
MAX_SAMPLES = 8
MAX_STEPS = 10
FIRST_VIEW = dict(n=4, seed=0)
STRIP = 8  # real training images in the "what the model knows" panel
SEED_MAX = SEED_LIMIT - 1

CA_INFO = ("Conditioning augmentation: StackGAN reads each caption as a random point near its sentence "
           "embedding, drawn from the seed, so each sample gets a slightly different reading. Off: every "
           "sample gets the same central reading (the mean μ) and differs only by its noise z; this model "
           "relies on CA for variety, so the samples then look almost alike.")


class StackGANDemo:
    """The loaded model (once, at start-up), its batcher and the tab's actions.

    Args:
        checkpoint: checkpoint or run directory (default: ``$STACKGAN_DEMO_CHECKPOINT``, else the
            shipped ``results/checkpoints/stackgan``).
    """

    def __init__(self, checkpoint: str | Path | None = None):
        path = Path(checkpoint or os.environ.get("STACKGAN_DEMO_CHECKPOINT", DEFAULT_CHECKPOINT))
        self.error: str | None = None
        self.pipe: Pipeline | None = None
        self.batcher: Batcher | None = None
        try:
            pipe = Pipeline.from_checkpoint(path)
            if pipe.conditions != ("text",):
                raise ValueError(f"{pipe.cfg.model_name} is not a text-to-image model")
            # Uncached encoder + a bounded memo in memory: the disk cache would keep every visitor's text.
            self.encode = Memo(get_text_encoder(pipe.cfg.text_encoder, cached=False).encode)
            self.encode(["warm up"])  # load the sentence encoder now, not on the first click
            self.pipe, self.batcher = pipe, Batcher(pipe, self.encode)
        except Exception:  # the app must still start (Results and About work without the model)
            log.exception("StackGAN checkpoint %s could not be loaded", path)
            self.error = ("The StackGAN checkpoint could not be loaded, so this tab cannot make images "
                          "right now (the server log says why).")

    def _require(self) -> Pipeline:
        if self.pipe is None:
            raise gr.Error(self.error or "No model is loaded.")
        return self.pipe

    @property
    def resolutions(self) -> tuple[int, int]:
        """Sides of the Stage-I and Stage-II images (equal for a one-stage model)."""
        m, res = self._require().cfg.model, self.pipe.resolution
        return (m.stage1_resolution if getattr(m, "stages", 1) > 1 else res), res

    @property
    def scales(self) -> tuple[int, int]:
        """Whole-pixel enlargement of Stage-I and Stage-II to about :data:`DISPLAY` pixels."""
        return tuple(max(1, DISPLAY // r) for r in self.resolutions)

    def _noise(self, seeds: list[int], ca_sampling: bool) -> dict[str, torch.Tensor]:
        noise = self._require().noise(seeds)
        if not ca_sampling:  # ε = 0 gives the CA mean μ: the condition without its sampling noise
            noise = {k: (torch.zeros_like(v) if k.startswith("eps") else v) for k, v in noise.items()}
        return noise

    def samples(self, caption: str, seeds: list[int], ca_sampling: bool) -> dict[str, torch.Tensor]:
        """``{"image": [n, C, H, W], "stage1": ...}`` for one caption and its seeds (batched)."""
        self._require()
        return self.batcher.run(Job([caption], torch.ones(len(seeds), 1), self._noise(seeds, ca_sampling)))

    def _galleries(self, caption: str, seeds: list[int], out: dict) -> tuple[str, str]:
        """The Stage-I and Stage-II galleries (HTML) of one caption's samples."""
        (low, res), (s1, s2) = self.resolutions, self.scales
        stage1 = out.get("stage1", out["image"])
        stem = slug(caption)
        one = [Sample(to_png_array(x, s1), f"seed {s}", f"{stem}_seed-{s}_stage1.png")
               for x, s in zip(stage1, seeds)]
        two = [Sample(to_png_array(x, s2), f"seed {s}", f"{stem}_seed-{s}_stage2.png")
               for x, s in zip(out["image"], seeds)]
        return (gallery_html(f"Stage-I: {low}×{low} sketch, each pixel shown as a square", one, 4,
                             f"Stage-I {low}×{low} sketch of “{caption}”,"),
                gallery_html(f"Stage-II: {res}×{res}", two, 4, f"Stage-II {res}×{res} image of “{caption}”,"))

    def generate(self, caption, n, seed, ca_sampling):
        """→ (Stage-I gallery, Stage-II gallery, notice): ``n`` samples of one caption, seeds
        ``seed, seed+1, ...`` (wrapping past 2**31 − 1 to 0). Galleries are HTML (:func:`gallery_html`)."""
        self._require()
        caption = validate.caption(caption)
        n = validate.integer(n, 1, MAX_SAMPLES, "Number of samples")
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        ca_sampling = validate.flag(ca_sampling, "CA sampling")
        seeds = seeds_from(seed, n)
        g1, g2 = self._galleries(caption, seeds, self.samples(caption, seeds, ca_sampling))
        return g1, g2, self.notice(caption)

    def interpolate(self, caption_a, caption_b, steps, seed):
        """→ gallery (HTML, one row): Stage-II images along (1−β)·φ(a) + β·φ(b), with the same noise
        and the CA mean (ε = 0)."""
        self._require()
        a = validate.caption(caption_a, "first caption")
        b = validate.caption(caption_b, "second caption")
        steps = validate.integer(steps, 2, MAX_STEPS, "Steps")
        seed = validate.integer(seed, 0, SEED_MAX, "Seed")
        betas = torch.linspace(0, 1, steps)
        weights = torch.stack([1 - betas, betas], dim=1)  # [steps, 2]
        out = self.batcher.run(Job([a, b], weights, self._noise([seed] * steps, ca_sampling=False)))
        _, s2 = self.scales
        stem = f"{slug(a, 40)}_to_{slug(b, 40)}_seed-{seed}"
        return gallery_html("From the first caption (β = 0) to the second (β = 1)",
                            [Sample(to_png_array(x, s2), f"β = {float(bt):.2f}", f"{stem}_beta-{float(bt):.2f}.png")
                             for x, bt in zip(out["image"], betas)],
                            alt=f"Stage-II image on the way from “{a}” (β = 0) to “{b}” (β = 1),")

    def notice(self, caption: str) -> str:
        """What the model will not understand in ``caption`` (``""`` if nothing); ``shapes`` models only."""
        return vocabulary.notice(caption) if self.pipe is not None and self.pipe.cfg.dataset == "shapes" else ""

    def first_view(self) -> tuple[str, str]:
        """The galleries before any click: :data:`EXAMPLES`\\[0] at :data:`FIRST_VIEW`, made at start-up."""
        if self.pipe is None:
            return "", ""
        seeds = seeds_from(FIRST_VIEW["seed"], FIRST_VIEW["n"])
        return self._galleries(EXAMPLES[0], seeds, self.samples(EXAMPLES[0], seeds, True))

    def training_strip(self) -> str:
        """A few real training images with their captions (``shapes`` only: rendered, needs no files)."""
        cfg = self.pipe.cfg if self.pipe is not None else None
        if cfg is None or cfg.dataset != "shapes":
            return ""
        try:
            from core.data import load_dataset

            ds = load_dataset("shapes", split="train", resolution=cfg.resolution, seed=cfg.dataset_seed,
                              size=STRIP, cache=False)
            items = [ds.item(i, ("image", "caption")) for i in range(len(ds))]
        except Exception:
            log.exception("could not render the training strip")
            return ""
        scale = max(1, DISPLAY // cfg.resolution)
        return gallery_html("Real training images and one of their captions",
                            [Sample(to_png_array(it["image"], scale), it["caption"], f"training-{i}.png")
                             for i, it in enumerate(items)], columns=STRIP, alt="Real training image, captioned:",
                            css_class="strip")

    def describe(self) -> str:
        if self.pipe is None:
            return ""
        c = self.pipe.cfg
        low, res = self.resolutions
        return (f"This model was trained on `{c.dataset}` ({c.preset} preset): Stage-I draws {low}×{low} "
                f"pixels, Stage-II {res}×{res}; captions are read by the `{c.text_encoder}` "
                "sentence encoder.")


def quality_line(scores_json: Path = SHOWCASE) -> str:
    """One line under the examples: they were picked, and what the shipped model gets on held-out captions,
    read from ``bench.showcase``'s ``scores.json`` (its number of captions ``n`` and scores; chance from the
    data's number of shapes, colours and patterns); ``""`` when the file is missing or unreadable."""
    import json

    from core.data import shapes

    try:
        data = json.loads(Path(scores_json).read_text())
        test = data["scores"]["final"]["test"]
        size = data.get("n")  # images scored, one per caption
        count = f"{size:,} " if isinstance(size, int) and not isinstance(size, bool) else ""
        said = [(name, test[f"cond_acc_{key}"], 1 / len(values)) for name, key, values in
                (("shape", "shape", shapes.SHAPES), ("colour", "color", shapes.COLORS),
                 ("pattern", "texture", shapes.TEXTURES))]
    except (OSError, KeyError, ValueError, TypeError):
        return ""
    return (f"The examples were picked among this model's better results. On {count}held-out test captions the "
            "evaluation classifier reads the asked " + ", ".join(f"{n} in {v:.0%}" for n, v, _ in said)
            + " of its images (chance " + ", ".join(f"{c * 100:g}%" for _, _, c in said) + "); free captions often get "
            "the wrong shape.")


# After new images arrive: bring them into view when they are not (on a phone, an example clicked below them).
SCROLL_JS = """() => {
  const one = document.querySelector('#stage1-gallery'), two = document.querySelector('#stage2-gallery');
  if (!one || !two || !two.querySelector('img')) return;
  const top = one.getBoundingClientRect().top, bottom = two.getBoundingClientRect().bottom;
  if (top < 0 || bottom > window.innerHeight) one.scrollIntoView({behavior: 'smooth', block: 'start'});
}"""


def _controls(notice_text: str) -> tuple[gr.Textbox, gr.Markdown, gr.Button, list]:
    """Caption, its notice and Generate; then the settings (samples, seed, CA) in a column of their own, which a
    phone shows after the images (demo.app.CSS) → (caption, notice, button, [caption, samples, seed, ca])."""
    with gr.Column(scale=3, min_width=280):
        caption = gr.Textbox(
            label="Caption", value=EXAMPLES[0], max_lines=3, elem_id="caption",
            info="Describe one shape: its kind, colour, one pattern, size and background, as in the examples below.")
        notice = gr.Markdown(notice_text, elem_id="caption-notice")
        btn = gr.Button("Generate", variant="primary", elem_id="generate")
    with gr.Column(scale=2, min_width=260, elem_id="stackgan-settings"):
        n = gr.Slider(1, MAX_SAMPLES, value=FIRST_VIEW["n"], step=1, label="Samples", elem_id="samples",
                      info="How many images to draw for this caption, each from its own seed.")
        seed = gr.Number(value=FIRST_VIEW["seed"], precision=0, label="Seed", minimum=0, maximum=SEED_MAX,
                         info="Sample i uses seed + i; the same caption and seed always give the same image.")
        ca = gr.Checkbox(value=True, label="CA sampling", info=CA_INFO)
    return caption, notice, btn, [caption, n, seed, ca]


def build(ctx: Context) -> None:
    """Add the tab's components and events to the enclosing ``gr.Blocks``."""
    model = StackGANDemo(ctx.checkpoints.get("stackgan"))
    ctx.models["stackgan"] = model
    first1, first2 = model.first_view()
    events = dict(concurrency_limit=ctx.max_visitors, concurrency_id="stackgan")

    with gr.Tab("StackGAN"):
        gr.Markdown("Type a caption and press **Generate**: **Stage-I** sketches a small, coarse image; "
                    "**Stage-II** reads that sketch *and the caption again* and redraws it four times larger.")
        if model.error:
            gr.Markdown(f"⚠️ {model.error}")
        with gr.Row(equal_height=False, elem_id="stackgan-top"):  # on a phone: caption, images, settings
            caption, notice, btn, inputs = _controls(model.notice(EXAMPLES[0]))
            with gr.Column(elem_id="stackgan-images"):
                with gr.Row(elem_classes="stage-row"):  # side by side; stacked on a phone (min widths)
                    with gr.Column(min_width=320):
                        g1 = gr.HTML(first1, elem_id="stage1-gallery", js_on_load=SAVE_JS, min_height=60)
                    with gr.Column(min_width=320):
                        g2 = gr.HTML(first2, elem_id="stage2-gallery", js_on_load=SAVE_JS, min_height=60)
        outputs = [g1, g2, notice]
        run = safe(model.generate)
        btn.click(run, inputs, outputs, api_name="generate", **events)
        caption.submit(run, inputs, outputs, api_visibility="private", **events)
        g2.change(None, js=SCROLL_JS, api_visibility="private", queue=False)
        gr.Examples([[c, FIRST_VIEW["n"], FIRST_VIEW["seed"], True] for c in EXAMPLES], inputs=inputs,
                    outputs=outputs, fn=run, run_on_click=True, cache_examples=False, visible_columns=[0],
                    api_visibility="private", label="Examples (click one to generate it)",
                    elem_id="examples")
        if model.describe():
            gr.Markdown(model.describe())
        if line := quality_line():
            gr.Markdown(line, elem_id="stackgan-quality")
        _knows(model)
        _interpolation(model, events)


def _knows(model: StackGANDemo) -> None:
    """The panel "What the model knows": its words and real training images."""
    with gr.Accordion("What the model knows", open=True, elem_id="knows"):
        strip = model.training_strip()
        gr.Markdown(
            "It learned from rendered pictures of **one raised shape** with **one colour**, at most "
            "**one pattern** (in lighter and darker shades of that colour), a size and a background, "
            "each with captions such as the ones under the images below. Words outside this list mean "
            "nothing to it; the notice under the caption box says when a caption uses them.\n\n"
            + vocabulary.panel_markdown())
        if strip:
            gr.HTML(strip, elem_id="training-strip", js_on_load=SAVE_JS)


def _interpolation(model: StackGANDemo, events: dict) -> None:
    """Between two captions: Stage-II images along the line from one caption's embedding to the other's."""
    gr.Markdown("### Between two captions\nStage-II images of points on the straight line from the first "
                "caption's embedding to the second's, all with the same noise and CA off, so only the "
                "caption changes from left to right.")
    with gr.Row():
        cap_a = gr.Textbox(label="From", value=EXAMPLES[1], min_width=200, info="The caption at the left end.")
        cap_b = gr.Textbox(label="To", value=EXAMPLES[6], min_width=200, info="The caption at the right end.")
    with gr.Row():
        steps = gr.Slider(2, MAX_STEPS, value=6, step=1, label="Steps", min_width=200,
                          info="Images along the way, both ends included.")
        iseed = gr.Number(value=0, precision=0, label="Seed", minimum=0, maximum=SEED_MAX, min_width=200,
                          info="The one noise every step uses.")
    ibtn = gr.Button("Interpolate", elem_id="interpolate")
    gi = gr.HTML("", elem_id="interp-gallery", js_on_load=SAVE_JS, min_height=60)
    ibtn.click(safe(model.interpolate), [cap_a, cap_b, steps, iseed], [gi], api_name="interpolate", **events)


TAB = Tab("StackGAN", build, model=True, order=10)
