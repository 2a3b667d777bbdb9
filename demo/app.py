"""Assemble the demo from its tabs: :data:`TABS` in order, each a :class:`demo.tabs.Tab`."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound connections
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import logging  # noqa: E402

import gradio as gr  # noqa: E402

from demo import about_tab, results_tab, s2gan_tab, sgan_tab, stackgan_tab, stacked_tab  # noqa: E402
from demo.serving import clear_on_error, quiet_input_checks  # noqa: E402
from demo.sharing import OpenGraph  # noqa: E402
from demo.tabs import Context, Tab  # noqa: E402

# The tabs, in order. A new model's tab is one more entry here.
TABS: tuple[Tab, ...] = (stackgan_tab.TAB, sgan_tab.TAB, s2gan_tab.TAB, stacked_tab.TAB, results_tab.TAB,
                         about_tab.TAB)
MAX_VISITORS = 16  # requests per model in flight at once; they share batched forward passes
QUEUE_SIZE = 256  # requests waiting at most; more get "the queue is full"
# Gradio keeps each session's last outputs (here up to ~0.2 MB of inline images) until this many
# newer sessions push it out: this bounds that memory (the default, 10,000, would allow ~2 GB).
SESSIONS = 500
# The page's Open Graph tags and preview image (demo.sharing), as Starlette's ``Middleware(OpenGraph)`` unpacks:
# (class, args, kwargs). A plain tuple: the demo imports nothing from starlette (not one of requirements.txt's).
OPEN_GRAPH = (OpenGraph, (), {})

CSS = """
/* Image grids (demo.serving.gallery_html): --columns per row, each image as wide as its cell. */
.samples { display: grid; grid-template-columns: repeat(var(--columns), minmax(0, 1fr)); gap: 8px; }
.samples figure { margin: 0; min-width: 0; }
/* Generated images are a few dozen pixels: enlarge by whole pixels, never blur. */
.samples img { display: block; width: 100%; height: auto; image-rendering: pixelated; border-radius: 4px; }
.samples figcaption { display: flex; justify-content: space-between; gap: 4px; font-size: 0.8rem;
                      line-height: 1.3; margin-top: 2px; overflow-wrap: break-word; min-width: 0; }
.samples a.save { text-decoration: none; font-weight: bold; padding: 0 4px; }
.gallery-title { font-weight: 600; margin: 4px 0 6px; }
/* Phone: the Stage-I and Stage-II galleries stack (each column has a min width), every sample shows. */
.stage-row { flex-wrap: wrap; }
/* Phone: the training strip (images with long captions) two per row. */
@media (max-width: 640px) { .samples.strip { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
/* Phone: eight-image strips (S²-GAN, SGAN, the stacked study) four per row, each about 80 px wide. */
@media (max-width: 640px) { .samples.phone4 { grid-template-columns: repeat(4, minmax(0, 1fr)); } }
/* Results tables: compact, and a wide one scrolls inside its box instead of pushing the page. */
.results-table table { font-size: 0.85rem; }
.results-table th, .results-table td { padding: 4px 6px !important; }
.results-table { overflow-x: auto; }
#results-table td:nth-child(n+3) { white-space: nowrap; }
"""


def build_app(checkpoint=None, results=None, sgan=None, s2gan=None, stacked=None) -> gr.Blocks:
    """The whole app; models load here, once.

    Args:
        checkpoint: the StackGAN checkpoint to serve (default: the shipped one).
        results: the ``results/`` folder the Results tab reads (default: the repository's).
        sgan: the folder holding the SGAN checkpoints, ``sgan-<dataset>[-noent]`` (default: the
            shipped ``results/checkpoints``; see :mod:`demo.sgan_tab`).
        s2gan: the folder holding ``s2gan-shapes`` (default: ``results/checkpoints``; :mod:`demo.s2gan_tab`).
        stacked: the folder holding ``stacked-<layer>-<mode>`` (default: ``results/checkpoints``;
            :mod:`demo.stacked_tab`).
    """
    ctx = Context(checkpoints={"stackgan": checkpoint, "sgan": sgan, "s2gan": s2gan, "stacked": stacked}, results=results or results_tab.DEFAULT_RESULTS,
                  max_visitors=MAX_VISITORS)
    with gr.Blocks(title="Stacked GANs") as app:
        gr.Markdown("# Stacked GANs\nStackGAN, SGAN and S²-GAN in PyTorch, running on a CPU, offline. "
                    f"Try {_tried()}; the Results tab shows how the papers' ablation tables "
                    "came out when rerun with several training seeds.")
        for tab in TABS:
            tab.build(ctx)
    clear_on_error(app)  # a failed event blanks its galleries: no old images under the error
    quiet_input_checks(app)  # Gradio's own input checks: one line in the log each, as the handlers' are
    app.queue(default_concurrency_limit=2, max_size=QUEUE_SIZE)
    app.demo_context = ctx  # for tests and checks: the loaded models
    return app


def _tried() -> str:
    """``StackGAN in its tab``, ``StackGAN, SGAN and S²-GAN in their tabs``: the models a visitor can try."""
    models = [t.title for t in TABS if t.model]
    if not models:
        return "the models"
    names = models[0] if len(models) == 1 else ", ".join(models[:-1]) + " and " + models[-1]
    return names + (" in its tab" if len(models) == 1 else " in their tabs")


def launch(app: gr.Blocks, port: int | None = None, host: str = "127.0.0.1", block: bool = True,
           sessions: int = SESSIONS):
    """Start the server. ``show_error=False``: a visitor sees the messages written for them
    (``gr.Error``, including Gradio's own input checks) and never a raw exception's text.
    ``sessions``: visitors' sessions Gradio remembers (see :data:`SESSIONS`). The page carries the
    demo's own Open Graph tags and preview image (:class:`demo.sharing.OpenGraph`); it is rendered by
    this Python server (``ssr_mode=False``, whatever ``GRADIO_SSR_MODE`` says), so that they are in it."""
    return app.launch(server_name=host, server_port=port, show_error=False, quiet=not block,
                      prevent_thread_lock=not block, css=CSS, state_session_capacity=sessions,
                      ssr_mode=False, app_kwargs={"middleware": [OPEN_GRAPH]})


def log_to_stderr(level: int = logging.INFO) -> None:
    """The demo's log (logger ``demo``) on stderr, from ``level`` up: one line per visitor's input error
    (INFO), a traceback per unexpected failure (ERROR). For the server (``app.py``); tests use caplog."""
    log = logging.getLogger("demo")
    log.setLevel(level)
    if not any(getattr(h, "demo_stderr", False) for h in log.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.demo_stderr = True
        log.addHandler(handler)
        log.propagate = False  # not twice, should the root logger print too
