"""The Gradio demo. ``app.py`` at the repository root builds it with :func:`demo.app.build_app`.

Each tab is one module ``demo/<name>_tab.py`` defining ``TAB = Tab(title, build, order=...)``
(:mod:`demo.tabs`); a new model family (SGAN, S²-GAN, the stacked study) adds that module and nothing else:
:func:`demo.app.tabs` finds it. What every model tab shares (batched forward passes, inline image galleries,
bounded memory, errors a visitor may read) is in :mod:`demo.serving`. The demo imports :mod:`core.pipeline`,
never the trainer nor a model's module: a tab learns what a checkpoint is from its config, and what a table
is from its ``results/<paper>/table.json``.
"""
