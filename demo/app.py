"""Assemble the demo from its tabs."""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no outbound connections
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import gradio as gr  # noqa: E402

from demo import about_tab, results_tab, stackgan_tab  # noqa: E402

CONCURRENCY = 2  # generation requests served at once (the CPU has 2 cores); the rest wait in the queue


def build_app(checkpoint=None, results=None) -> gr.Blocks:
    """The whole app; models load here, once."""
    model = stackgan_tab.StackGANDemo(checkpoint)
    with gr.Blocks(title="Stacked GANs") as app:
        gr.Markdown("# Stacked GANs\nStackGAN, SGAN and S²-GAN in PyTorch — "
                    "runs on CPU, offline; the benchmark behind the Results tab is `python -m bench.ablations`")
        stackgan_tab.build(model)
        results_tab.build(results)
        about_tab.build()
    app.queue(default_concurrency_limit=CONCURRENCY, max_size=64)
    return app


def launch(app: gr.Blocks, port: int | None = None, host: str = "127.0.0.1", block: bool = True):
    """Start the server. ``show_error`` passes input errors raised by Gradio itself (e.g. a string
    sent for a number through the API) to the caller as readable messages."""
    return app.launch(server_name=host, server_port=port, show_error=True, quiet=not block,
                      prevent_thread_lock=not block)
