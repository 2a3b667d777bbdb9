"""Evaluation: IS, FID, KID and precision/recall through torch-fidelity, plus conditional accuracy,
per-condition diversity and normal consistency.

One call scores a pipeline against a dataset::

    from core.metrics import evaluate
    scores = evaluate(pipe, "shapes", metrics=["is", "fid", "kid", "prc", "cond_acc", "diversity"], n=2000)
    scores["fid"], scores.meta["kid_subset_size"]

Features come from small evaluation classifiers trained here on each dataset's train split and
shipped under ``results/classifiers/`` (``inception=True`` adds a standard TF-2015 Inception).
The command line is ``python -m core.metrics score|train-classifier|train-normals``; see
``docs/metrics.md``.

Every metric, the score keys it writes and which way each is better are declared once, in the registry::

    from core.metrics import direction, higher_is_better, meaning
    direction("fid"), higher_is_better("recall"), meaning("cond_acc_shape")

Modules: :mod:`~core.metrics.evaluate` (the API), :mod:`~core.metrics.registry` (the metrics, their
keys and directions), :mod:`~core.metrics.measures` (each metric's code, registered there, and the work
they share), :mod:`~core.metrics.generation` (generating for evaluation), :mod:`~core.metrics.fidelity`
(torch-fidelity extractors), :mod:`~core.metrics.classifiers` (our networks and their training),
:mod:`~core.metrics.domain` (our measures), :mod:`~core.metrics.reference` (real data as a
pipeline), :mod:`~core.metrics.data` (real data as uint8 arrays).
"""
from core.metrics.classifiers import load_classifier, load_normal_predictor
from core.metrics.data import MetricsError, load_real
from core.metrics.domain import caption_attributes, conditional_accuracy, diversity, normal_consistency
from core.metrics.evaluate import DEFAULT_METRICS, METRICS, Scores, evaluate, evaluate_images
from core.metrics.reference import RealDataPipeline
from core.metrics.registry import direction, higher_is_better, meaning

__all__ = [
    "DEFAULT_METRICS", "METRICS", "MetricsError", "RealDataPipeline", "Scores", "caption_attributes",
    "conditional_accuracy", "direction", "diversity", "evaluate", "evaluate_images", "higher_is_better",
    "load_classifier", "load_normal_predictor", "load_real", "meaning", "normal_consistency",
]
