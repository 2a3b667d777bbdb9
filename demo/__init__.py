"""The Gradio demo. ``app.py`` at the repository root builds it with :func:`demo.app.build_app`.

Each tab is one module with a ``build(...)`` function; a new model family (SGAN, S²-GAN) adds a
module and one line in :mod:`demo.app`. The demo imports :mod:`core.pipeline`, never the trainer.
"""
