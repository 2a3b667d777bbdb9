"""StackGAN tab: free text → Stage-I and Stage-II images; CA on/off; caption interpolation."""
from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import gradio as gr
import numpy as np
import torch
from PIL import Image

from core.data.base import image_to_uint8
from core.pipeline import Pipeline
from demo import validate

DEFAULT_CHECKPOINT = Path(__file__).resolve().parent.parent / "results" / "checkpoints" / "stackgan"
EXAMPLES = [
    "a large red star with blue stripes",
    "a small green circle on a black background",
    "a yellow heart with white dots",
    "a purple crescent covered with fine checks",
    "a plain orange arrow on a cream backdrop",
]
DISPLAY = 128  # displayed side of every image (nearest-neighbour upscale keeps pixels honest)
MAX_SAMPLES = 8


class StackGANDemo:
    """The loaded model (once, at start-up) and the two actions of the tab."""

    def __init__(self, checkpoint: str | Path | None = None):
        path = Path(checkpoint or os.environ.get("STACKGAN_DEMO_CHECKPOINT", DEFAULT_CHECKPOINT))
        self.error: str | None = None
        self.pipe: Pipeline | None = None
        try:
            self.pipe = Pipeline.from_checkpoint(path)
            self.pipe.encode(["warm up"])  # load the sentence encoder now, not on the first click
        except (FileNotFoundError, OSError, KeyError, ValueError) as e:
            self.error = f"The StackGAN checkpoint could not be loaded from {path}: {e}"

    def _require(self) -> Pipeline:
        if self.pipe is None:
            raise gr.Error(self.error or "no model loaded")
        return self.pipe

    def _noise(self, seeds: list[int], ca_sampling: bool) -> dict[str, torch.Tensor]:
        noise = self._require().noise(seeds)
        if not ca_sampling:  # ε = 0 gives the CA mean μ: the condition without its sampling noise
            noise = {k: (torch.zeros_like(v) if k.startswith("eps") else v) for k, v in noise.items()}
        return noise

    def generate(self, caption, n, seed, ca_sampling):
        """→ (Stage-I gallery, Stage-II gallery): n samples of one caption, seeds seed..seed+n−1."""
        pipe = self._require()
        caption = validate.caption(caption)
        n = validate.integer(n, 1, MAX_SAMPLES, "Number of samples")
        seed = validate.integer(seed, 0, 2**31 - 1, "Seed")
        ca_sampling = validate.flag(ca_sampling, "CA sampling")
        seeds = list(range(seed, seed + n))
        emb = pipe.encode([caption]).expand(n, -1)
        out = pipe.generate(embeddings=emb, noise=self._noise(seeds, ca_sampling))
        stage1 = out.get("stage1", out["image"])
        return ([(_pil(x), f"seed {s}") for x, s in zip(stage1, seeds)],
                [(_pil(x), f"seed {s}") for x, s in zip(out["image"], seeds)])

    def interpolate(self, caption_a, caption_b, steps, seed):
        """→ gallery: Stage-II images along (1−β)·φ(a) + β·φ(b), same noise, CA mean (ε = 0)."""
        pipe = self._require()
        a = validate.caption(caption_a, "first caption")
        b = validate.caption(caption_b, "second caption")
        steps = validate.integer(steps, 2, 10, "Steps")
        seed = validate.integer(seed, 0, 2**31 - 1, "Seed")
        ea, eb = pipe.encode([a, b])
        betas = torch.linspace(0, 1, steps)
        emb = (1 - betas)[:, None] * ea + betas[:, None] * eb  # [steps, E]
        noise = self._noise([seed] * steps, ca_sampling=False)
        out = pipe.generate(embeddings=emb, noise=noise)
        return [(_pil(x), f"β = {float(bt):.2f}") for x, bt in zip(out["image"], betas)]


def _pil(image: torch.Tensor) -> str:
    """Save one image as a PNG under a unique name and return its path.

    Returning PIL images would make Gradio write each one to a cache path named by its content
    hash, rewriting the file in place every time; two requests producing the same image at once
    then race (one is served a half-written file). File paths are copied into the cache under a
    temporary name and renamed, which is safe."""
    arr = image_to_uint8(image)
    if arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    _OUT.mkdir(parents=True, exist_ok=True)
    path = _OUT / f"{uuid.uuid4().hex}.png"
    Image.fromarray(arr).resize((DISPLAY, DISPLAY), Image.NEAREST).save(path)
    old = sorted(_OUT.glob("*.png"), key=lambda p: p.stat().st_mtime)[:-_KEEP]
    for p in old:  # Gradio has its own copy by now; keep the folder small
        p.unlink(missing_ok=True)
    return str(path)


_OUT = Path(tempfile.gettempdir()) / f"stackgan-demo-{os.getpid()}"
_KEEP = 512


def build(model: StackGANDemo) -> None:
    """Add the tab's components and events to the enclosing ``gr.Blocks``."""
    with gr.Tab("StackGAN"):
        if model.error:
            gr.Markdown(f"⚠️ {model.error}")
        info = ""
        if model.pipe is not None:
            c = model.pipe.cfg
            info = (f"Model: StackGAN trained on `{c.dataset}` ({c.preset} preset), Stage-I "
                    f"{c.model.stage1_resolution}×{c.model.stage1_resolution} → Stage-II {c.resolution}×{c.resolution}; "
                    f"text encoder `{c.text_encoder}`. Describe a shape: its kind, colour, pattern, size, background.")
        gr.Markdown("Type any caption. Stage-I sketches a low-resolution image from the caption and noise; "
                    "Stage-II reads that sketch and the caption again and refines it. " + info)
        with gr.Row():
            caption = gr.Textbox(label="Caption", value=EXAMPLES[0], max_lines=3, scale=3)
            with gr.Column(scale=1):
                n = gr.Slider(1, MAX_SAMPLES, value=4, step=1, label="Samples")
                seed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
                ca = gr.Checkbox(value=True, label="CA sampling (off: use the CA mean μ)")
        gr.Examples(EXAMPLES, inputs=[caption])
        btn = gr.Button("Generate", variant="primary")
        with gr.Row():
            g1 = gr.Gallery(label="Stage-I", columns=4, height="auto", elem_id="stage1-gallery")
            g2 = gr.Gallery(label="Stage-II", columns=4, height="auto", elem_id="stage2-gallery")
        btn.click(model.generate, [caption, n, seed, ca], [g1, g2], api_name="generate")
        caption.submit(model.generate, [caption, n, seed, ca], [g1, g2], api_visibility="private")

        gr.Markdown("### Interpolate between two captions (fixed noise)")
        with gr.Row():
            cap_a = gr.Textbox(label="From", value=EXAMPLES[1])
            cap_b = gr.Textbox(label="To", value=EXAMPLES[2])
            steps = gr.Slider(2, 10, value=6, step=1, label="Steps")
            iseed = gr.Number(value=0, precision=0, label="Seed", minimum=0)
        ibtn = gr.Button("Interpolate")
        gi = gr.Gallery(label="Stage-II along the interpolation", columns=6, height="auto")
        ibtn.click(model.interpolate, [cap_a, cap_b, steps, iseed], [gi], api_name="interpolate")
