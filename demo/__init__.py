"""The Gradio demo. ``app.py`` at the repository root builds it with :func:`demo.app.build_app`.

Each tab is one module defining ``TAB = Tab(title, build)`` (:mod:`demo.tabs`); a new model family
(SGAN, S²-GAN, the stacked study) adds a module and one entry in :data:`demo.app.TABS`. What every
model tab shares (batched forward passes, inline image galleries, bounded memory, errors a visitor
may read) is in :mod:`demo.serving`. The demo imports :mod:`core.pipeline`, never the trainer.
"""
