"""The Gradio demo. ``app.py`` at the repository root builds it with :func:`demo.app.build_app`.

Each tab is one module ``demo/<name>_tab.py`` defining ``TAB = Tab(title, build, order=...)``
(:mod:`demo.tabs`); a new model family (SGAN, S²-GAN, the stacked study) adds that module and nothing else:
:func:`demo.app.tabs` finds it. What every model tab shares (batched forward passes, inline image galleries,
bounded memory, errors a visitor may read, the other tabs' images sent when their tab opens) is in
:mod:`demo.serving`; a tab's line on how good its models are is built by :mod:`demo.health` from the committed
health files, and the files the page links to (the Results tab's sample sheets) are served by :mod:`demo.files`.
The demo imports :mod:`core.pipeline`, never the trainer nor a model's module: a tab learns what a checkpoint is
from its config, and what a table is from its ``results/<paper>/table.json``.
"""
