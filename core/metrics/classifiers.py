"""Our evaluation networks: a small multi-head classifier per dataset and a ``NormalPredictor``.

They are trained here, once, on the ``train`` split and shipped under ``results/classifiers/``
(safetensors weights + a JSON config holding the training command, its wall time and the test
accuracy). They are independent of every network used inside a training loss.

- :class:`EvalClassifier` gives penultimate features (for FID, KID, precision/recall and
  diversity), one logit head per categorical attribute (for IS and conditional accuracy) and,
  for ``shapes``, a regression of the scene parameters that captions never state (position,
  size, light), so that its features see the variation a generator's noise should produce.
  It works at one fixed resolution (the dataset's ``DatasetTraits.classifier_resolution``: 64 for
  ``shapes``, 32 for ``mnist5k``); inputs of any size
  are resized to it (bilinear, anti-aliased), and training sees native renders at 16, 32 and 64
  upsampled the same way, so generators at 16..128 are scored fairly.
- :class:`NormalPredictor` maps an image to unit surface normals (for S²-GAN's normal
  consistency, Wang & Gupta 2016 §5: an FCN predicts normals from generated images).

Train them with ``python -m core.metrics train-classifier`` / ``train-normals``.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from core.checkpoint import load_weights, read_meta, write_checkpoint
from core.data import dataset_traits
from core.losses import angular_error
from core.metrics.data import SCENE_TARGETS, MetricsError, RealData, load_real

CLASSIFIERS_DIR = Path(__file__).resolve().parents[2] / "results" / "classifiers"
NORMALS_NAME = "shapes-normals"  # results/classifiers/<this>: the shipped NormalPredictor
CLASSIFIER_KIND = "eval_classifier"
NORMALS_KIND = "normal_predictor"
# The native training resolutions with their sampling weights (each dataset's classifier works at its
# DatasetTraits.classifier_resolution; anything else is resized to it).
TRAIN_RESOLUTIONS = {64: 0.5, 32: 0.25, 16: 0.25}


# ----------------------------------------------------------------------------------- input helpers
def match_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """``[B, C, H, W]`` → ``[B, channels, H, W]``: grey is repeated, RGB → luma (ITU-R BT.601)."""
    if x.shape[1] == channels:
        return x
    if x.shape[1] == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if x.shape[1] == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return (x * w).sum(1, keepdim=True)
    raise MetricsError(f"cannot convert {x.shape[1]}-channel images to {channels} channels")


def prepare_images(images: torch.Tensor, channels: int, resolution: int) -> torch.Tensor:
    """uint8 ``[B, C, H, W]`` (or float in [-1, 1]) → float ``[B, channels, R, R]`` in [-1, 1].

    Resizing is bilinear with anti-aliasing (a no-op when the size already matches).
    """
    x = images.float().div(127.5).sub(1.0) if images.dtype == torch.uint8 else images.float()
    x = match_channels(x, channels)
    if x.shape[-1] != resolution or x.shape[-2] != resolution:
        x = F.interpolate(x, size=(resolution, resolution), mode="bilinear", align_corners=False, antialias=True)
    return x


def unresolvable_attributes(dataset: str, resolution: int) -> set[str]:
    """Attributes that images of ``dataset`` at ``resolution`` cannot show (never trained or scored there).

    Declared by the dataset (:attr:`core.data.DatasetTraits.unresolvable_attributes`): ``shapes``
    fades its textures out where they would alias (``shapes.texture_contrast``), so at 16×16 every
    texture renders plain and ``texture`` is unresolvable; other datasets show everything.
    """
    return set(dataset_traits(dataset).unresolvable_attributes(resolution))


def _conv(cin: int, cout: int, stride: int = 1, kernel: int = 3) -> nn.Sequential:
    """Conv (3×3 or 4×4, 'same' padding for stride 1, halving for stride 2) → BatchNorm → ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


# ----------------------------------------------------------------------------------- classifier
class EvalClassifier(nn.Module):
    """A small CNN: features for FID/KID/PRC/diversity, logits per attribute, scene regression.

    Args:
        in_channels: input channels (1 or 3).
        heads: attribute name → number of classes (one linear head each).
        resolution: input side; a multiple of 16 (inputs are resized to it by :meth:`prepare`).
        width: channels of the first stride-2 block (doubles twice).
        feature_dim: size of the penultimate feature vector.
        scene_dim: number of regressed scene parameters (0: none).
    """

    def __init__(self, in_channels: int, heads: dict[str, int], resolution: int, width: int = 32,
                 feature_dim: int = 128, scene_dim: int = 0):
        super().__init__()
        if resolution % 16:
            raise ValueError(f"resolution must be a multiple of 16, got {resolution}")
        self.in_channels, self.resolution = in_channels, resolution
        w = width
        self.trunk = nn.Sequential(
            _conv(in_channels, 3 * w // 4, 2, kernel=4),  # [B, 3w/4, R/2, R/2]: strided 4×4 stem
            _conv(3 * w // 4, w, 2), _conv(w, w),     # [B, w, R/4, R/4]
            _conv(w, 2 * w, 2), _conv(2 * w, 2 * w),  # [B, 2w, R/8, R/8]
            _conv(2 * w, 4 * w, 2),                   # [B, 4w, R/16, R/16]
            nn.Conv2d(4 * w, w, 1),                   # [B, w, R/16, R/16]: keeps where things are
            nn.Flatten(),                             # [B, w · (R/16)²]
        )
        self.embed = nn.Sequential(nn.Linear(w * (resolution // 16) ** 2, feature_dim), nn.ReLU(inplace=True))
        self.heads = nn.ModuleDict({k: nn.Linear(feature_dim, c) for k, c in heads.items()})
        self.scene = nn.Linear(feature_dim, scene_dim) if scene_dim else None
        # Set after training to 1 / RMS of the features on the train split: unit-scale features keep
        # KID's cubic kernel (x·y/d + 1)³ near 1, where float32 sums stay exact.
        self.register_buffer("feature_scale", torch.ones(()))
        self.to(memory_format=torch.channels_last)  # about 2x faster convolutions on CPU

    def prepare(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 / [-1, 1] images of any size → this network's input ``[B, C, R, R]``."""
        return prepare_images(images, self.in_channels, self.resolution)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor], torch.Tensor | None]:
        """``x``: ``[B, C, R, R]`` in [-1, 1] → (features ``[B, F]``, {head: logits ``[B, K]``}, scene ``[B, S]``).

        Features are the penultimate activations times :attr:`feature_scale`.
        """
        h = self.embed(self.trunk(x.contiguous(memory_format=torch.channels_last)))  # [B, F]
        scene = self.scene(h) if self.scene is not None else None
        return h * self.feature_scale, {k: head(h) for k, head in self.heads.items()}, scene

    @torch.no_grad()
    def predict(self, images: torch.Tensor, batch_size: int = 500, progress: bool = False
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Features ``[N, F]`` and class predictions ``{head: [N]}`` for uint8 images of any size."""
        self.eval()
        feats, preds = [], {k: [] for k in self.heads}
        for i in tqdm(range(0, len(images), batch_size), desc="classifier features", unit="batch",
                      disable=not progress):
            f, logits, _ = self(self.prepare(images[i:i + batch_size]))
            feats.append(f)
            for k, v in logits.items():
                preds[k].append(v.argmax(1))
        return torch.cat(feats), {k: torch.cat(v) for k, v in preds.items()}


class LoadedClassifier:
    """A shipped or trained :class:`EvalClassifier` with what its config says about it.

    Attributes:
        net: the network (eval mode).
        meta: the checkpoint's JSON config.
        path: the checkpoint directory.
        is_head: the head whose logits give the Inception Score (``shape`` / ``class``).
        values: head → class names.
    """

    def __init__(self, net: EvalClassifier, meta: dict, path: Path):
        self.net, self.meta, self.path = net.eval(), meta, Path(path)
        self.is_head = meta["is_head"]
        self.values = meta["values"]
        self.dataset = meta["dataset"]


def default_classifier_path(dataset: str) -> Path:
    """Where the shipped classifier for ``dataset`` lives (``results/classifiers/<dataset>``)."""
    return CLASSIFIERS_DIR / dataset


_LOADED: dict[str, LoadedClassifier] = {}


def load_classifier(path_or_dataset: str | Path) -> LoadedClassifier:
    """Load an evaluation classifier from a checkpoint directory or a dataset's shipped one.

    Raises:
        MetricsError: no classifier there (the message names the command that trains one).
    """
    path = Path(path_or_dataset)
    if not (path / "config.json").is_file():
        path = default_classifier_path(str(path_or_dataset))
    key = str(path.resolve())
    if key in _LOADED:
        return _LOADED[key]
    if not (path / "config.json").is_file():
        raise MetricsError(
            f"no evaluation classifier at {path}; train one with "
            f"`python -m core.metrics train-classifier --dataset {Path(str(path_or_dataset)).name} --out {path}` "
            "or pass the directory of one")
    meta = read_meta(path)
    if meta.get("kind") != CLASSIFIER_KIND:
        raise MetricsError(f"{path} holds a {meta.get('kind')!r} checkpoint, not an evaluation classifier")
    net = EvalClassifier(**meta["arch"])
    load_weights(path, net)
    _LOADED[key] = LoadedClassifier(net, meta, path)
    return _LOADED[key]


# ----------------------------------------------------------------------------------- normals
class NormalPredictor(nn.Module):
    """Image → unit surface normals: a small U-Net (two skip connections) at a fixed resolution.

    Args:
        in_channels: input channels.
        resolution: working side (a multiple of 4); inputs are resized to it and predictions
            are resized back to the size asked for.
        width: channels at full resolution (doubles at each of the two downsamplings).
    """

    def __init__(self, in_channels: int = 3, resolution: int = 64, width: int = 8):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        w = width
        self.enc1 = nn.Sequential(_conv(in_channels, w), _conv(w, w))        # [B, w, R, R]
        self.enc2 = nn.Sequential(_conv(w, 2 * w, 2), _conv(2 * w, 2 * w))   # [B, 2w, R/2, R/2]
        self.enc3 = nn.Sequential(_conv(2 * w, 4 * w, 2), _conv(4 * w, 4 * w))  # [B, 4w, R/4, R/4]
        self.dec2 = _conv(4 * w + 2 * w, 2 * w)                              # [B, 2w, R/2, R/2]
        self.dec1 = _conv(2 * w + w, w)                                      # [B, w, R, R]
        self.out = nn.Conv2d(w, 3, 1)                                        # [B, 3, R, R]
        self.to(memory_format=torch.channels_last)  # about 2x faster convolutions on CPU

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[B, C, R, R]`` in [-1, 1] → unit normals ``[B, 3, R, R]``."""
        e1 = self.enc1(x.contiguous(memory_format=torch.channels_last))
        e2 = self.enc2(e1)
        e3 = self.enc3(e2)
        d2 = self.dec2(torch.cat([F.interpolate(e3, scale_factor=2.0, mode="bilinear", align_corners=False), e2], 1))
        d1 = self.dec1(torch.cat([F.interpolate(d2, scale_factor=2.0, mode="bilinear", align_corners=False), e1], 1))
        return F.normalize(self.out(d1), dim=1)

    def predict(self, images: torch.Tensor, size: int | None = None) -> torch.Tensor:
        """uint8 / [-1, 1] images ``[B, C, H, W]`` → unit normals ``[B, 3, size, size]`` (default ``H``)."""
        size = size or images.shape[-1]
        n = self(prepare_images(images, self.in_channels, self.resolution))
        if size != self.resolution:
            n = F.interpolate(n, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        return F.normalize(n, dim=1)


def load_normal_predictor(path: str | Path | None = None) -> NormalPredictor:
    """Load a :class:`NormalPredictor` (default: the shipped ``results/classifiers/shapes-normals``).

    Raises:
        MetricsError: no predictor there (the message names the command that trains one).
    """
    path = Path(path) if path is not None else CLASSIFIERS_DIR / NORMALS_NAME
    if not (path / "config.json").is_file():
        raise MetricsError(f"no NormalPredictor at {path}; train one with "
                           f"`python -m core.metrics train-normals --out {path}`")
    meta = read_meta(path)
    if meta.get("kind") != NORMALS_KIND:
        raise MetricsError(f"{path} holds a {meta.get('kind')!r} checkpoint, not a NormalPredictor")
    net = NormalPredictor(**meta["arch"])
    load_weights(path, net)
    return net.eval()


# ----------------------------------------------------------------------------------- training
def _targets(data: RealData) -> tuple[dict[str, torch.Tensor], dict[str, list[str]], str]:
    """Per-head integer targets, value names and the IS head for one dataset split."""
    if data.attributes:
        targets = dict(data.attributes)
        values = dict(data.attribute_values)
        is_head = next((k for k, v in targets.items() if torch.equal(v, data.labels)), next(iter(targets)))
    else:
        targets = {"class": data.labels}
        values = {"class": list(data.class_names) or [str(c) for c in range(int(data.labels.max()) + 1)]}
        is_head = "class"
    return targets, values, is_head


def _sample_resolutions(n: int, gen: torch.Generator) -> torch.Tensor:
    """``[n]`` native resolutions drawn from :data:`TRAIN_RESOLUTIONS`.

    Every batch mixes resolutions, so BatchNorm's batch statistics in training match its running
    statistics in evaluation (single-resolution batches made them differ, and cost the sharp 64×64
    inputs most: texture accuracy fell to 0.39).
    """
    choices = torch.tensor(list(TRAIN_RESOLUTIONS))
    weights = torch.tensor(list(TRAIN_RESOLUTIONS.values()))
    return choices[torch.multinomial(weights, n, replacement=True, generator=gen)]


def _shift(x: torch.Tensor, max_shift: int, gen: torch.Generator) -> torch.Tensor:
    """Random translation by up to ``max_shift`` pixels (edge padding), one offset per batch."""
    if max_shift <= 0:
        return x
    dx, dy = (int(v) for v in torch.randint(-max_shift, max_shift + 1, (2,), generator=gen))
    p = max_shift
    x = F.pad(x, (p, p, p, p), mode="replicate")
    h, w = x.shape[-2] - 2 * p, x.shape[-1] - 2 * p
    return x[..., p + dy:p + dy + h, p + dx:p + dx + w]


@torch.no_grad()
def classifier_accuracy(clf: LoadedClassifier | EvalClassifier, data: RealData, skip: set[str] = frozenset()
                        ) -> dict[str, float]:
    """Accuracy of each head on ``data`` (heads in ``skip`` are left out)."""
    net = clf.net if isinstance(clf, LoadedClassifier) else clf
    targets, _, _ = _targets(data)
    _, preds = net.predict(data.images)
    return {k: float((preds[k] == targets[k]).float().mean()) for k in preds if k in targets and k not in skip}


def _make_readme(out: Path, meta: dict) -> None:
    lines = [f"# {meta.get('title', out.name)}", "", meta.get("description", ""), "",
             "Trained with (wall time {:.0f} s on this machine's CPU):".format(meta["train"]["seconds"]), "",
             "```", meta["train"]["command"], "```", "", "## Test results", ""]
    for split, table in meta["test"].items():
        lines.append(f"- `{split}`: " + ", ".join(f"{k} {v:.4f}" for k, v in table.items()))
    lines += ["", "Files: `model.safetensors` (weights), `config.json` (architecture, class names, "
              "training command and the numbers above). Load with `core.metrics.classifiers."
              + ("load_normal_predictor" if meta["kind"] == NORMALS_KIND else "load_classifier") + "`.", ""]
    (out / "README.md").write_text("\n".join(lines))


def _fit(net: nn.Module, batch_loss, n: int, epochs: int, batch_size: int, lr: float, gen: torch.Generator,
         desc: str, loss_digits: int, progress: bool) -> None:
    """The training loop both evaluation networks share: AdamW with a cosine schedule over ``epochs``
    shuffled passes; each batch's items get a native resolution drawn from ``gen`` (mixed-resolution
    batches) and ``batch_loss(idx [B], res [B])`` returns the loss. Leaves ``net`` in train mode."""
    steps = epochs * math.ceil(n / batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    bar = tqdm(total=steps, desc=desc, disable=not progress)
    net.train()
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            res = _sample_resolutions(len(idx), gen)  # [B] each item's native resolution
            loss = batch_loss(idx, res)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(epoch=epoch, loss=f"{loss.item():.{loss_digits}f}")
    bar.close()


def train_classifier(dataset: str, out: str | Path, epochs: int = 8, batch_size: int = 128, lr: float = 2e-3,
                     seed: int = 0, data_seed: int = 0, width: int = 32, feature_dim: int = 128,
                     train_size: int | None = None, test_size: int | None = None, progress: bool = True,
                     command: str | None = None) -> dict:
    """Train an :class:`EvalClassifier` on ``dataset``'s train split and write it to ``out``.

    Each item of a batch is drawn at a native resolution from :data:`TRAIN_RESOLUTIONS` and resized to
    the classifier's; heads a resolution cannot show (:func:`unresolvable_attributes`) get no loss there.
    Optimiser: AdamW (weight decay 1e-4) with a cosine learning-rate decay; mild Gaussian input
    noise (σ ≤ 0.04) for robustness to generator artefacts; ±2 px shifts for datasets without scene
    regression (shifting would corrupt the position targets).

    Args:
        dataset: ``shapes``, ``mnist5k`` or another registered dataset with labels.
        out: checkpoint directory to write.
        epochs: passes over the train split.
        batch_size: images per step.
        lr: peak learning rate.
        seed: network init and batch order.
        data_seed: dataset seed (``shapes`` rendering, ``mnist5k`` split).
        width: network width (see :class:`EvalClassifier`).
        feature_dim: penultimate feature size.
        train_size: use only the first ``train_size`` training items (tests).
        test_size: measure accuracy on only the first ``test_size`` test items (tests).
        progress: show progress bars.
        command: the command line to record (default: ``sys.argv``).
    Returns:
        The checkpoint's JSON config (with test accuracies).
    """
    t0 = time.time()
    out = Path(out)
    traits = dataset_traits(dataset)
    res = traits.classifier_resolution
    train = {r: load_real(dataset, "train", r, n=train_size, seed=data_seed, progress=progress)
             for r in TRAIN_RESOLUTIONS}
    ref = train[res] if res in train else next(iter(train.values()))
    targets, values, is_head = _targets(ref)
    scene = ref.scene  # [N, S] or None
    arch = dict(in_channels=ref.images.shape[1], heads={k: len(v) for k, v in values.items()}, resolution=res,
                width=width, feature_dim=feature_dim, scene_dim=0 if scene is None else scene.shape[1])
    torch.manual_seed(seed)
    net = EvalClassifier(**arch)
    gen = torch.Generator().manual_seed(seed)
    n = len(ref)
    resolutions = list(TRAIN_RESOLUTIONS)
    skip = {r: unresolvable_attributes(dataset, r) for r in resolutions}
    batch_loss = _classifier_batch_loss(net, train, targets, scene, skip, gen)
    _fit(net, batch_loss, n, epochs, batch_size, lr, gen, f"train classifier ({dataset})", 3, progress)
    net.eval()
    features, _ = net.predict(ref.images[:2000])  # [<=2000, F]
    net.feature_scale.fill_(float(features.pow(2).mean().rsqrt()))
    seconds = time.time() - t0
    test = _test_accuracies(net, dataset, skip, test_size, data_seed, progress)
    meta = {
        "kind": CLASSIFIER_KIND, "dataset": dataset, "arch": arch, "values": values, "is_head": is_head,
        "scene_targets": list(SCENE_TARGETS) if scene is not None else [],
        "title": f"Evaluation classifier for `{dataset}`",
        "description": (f"A {sum(p.numel() for p in net.parameters()):,}-parameter CNN at {res}x{res} with heads "
                        f"{list(values)}; IS uses the `{is_head}` head, FID/KID/PRC and diversity its "
                        f"{feature_dim}-d penultimate features (scaled to unit RMS on the train split). "
                        "Trained on native renders at "
                        f"{resolutions} (weights {list(TRAIN_RESOLUTIONS.values())}) resized to {res}. "
                        "Accuracy per head below, on native test images at each resolution "
                        "(texture is not scored where the dataset renders it plain)."),
        "train": _train_record(command, seconds, epochs, batch_size, lr, seed, data_seed, n),
        "test": test,
    }
    write_checkpoint(out, net, meta)
    _make_readme(out, meta)
    _LOADED.pop(str(out.resolve()), None)
    return meta


def _classifier_batch_loss(net: EvalClassifier, train: dict[int, RealData], targets: dict[str, torch.Tensor],
                           scene: torch.Tensor | None, skip: dict[int, set[str]], gen: torch.Generator):
    """The loss of a batch for :func:`_fit`: ``batch_loss(idx, res)`` of the items ``idx`` [B] drawn at the native
    resolutions ``res`` [B] (keys of ``train``), augmented with ``gen``; each head's cross-entropy over the items
    whose resolution can show it (``skip``: the heads each resolution cannot), plus the scene regression."""
    resolutions = list(train)

    def batch_loss(idx: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
        x = torch.cat([net.prepare(train[r].images[idx[res == r]]) for r in resolutions])  # [B, C, R, R]
        idx = torch.cat([idx[res == r] for r in resolutions])  # the same order as x
        res = torch.cat([res[res == r] for r in resolutions])
        if scene is None:
            x = _shift(x, 2, gen)
        x = x + torch.randn(x.shape, generator=gen) * 0.04 * torch.rand(len(x), 1, 1, 1, generator=gen)
        _, logits, pred_scene = net(x)
        loss = 0.0
        for k in logits:  # mean cross-entropy over the items whose resolution can show attribute k
            shown = torch.tensor([k not in skip[int(r)] for r in res])
            if shown.any():
                loss = loss + F.cross_entropy(logits[k][shown], targets[k][idx[shown]])
        if pred_scene is not None:
            loss = loss + F.smooth_l1_loss(pred_scene, scene[idx])
        return loss

    return batch_loss


def _test_accuracies(net: EvalClassifier, dataset: str, skip: dict[int, set[str]], test_size: int | None,
                     data_seed: int, progress: bool) -> dict[str, dict]:
    """``{"<split>@<resolution>": accuracy per head}`` on every split but train, at each resolution of ``skip``
    (its heads that resolution cannot show are not scored)."""
    test = {}
    for r in skip:
        for split in (s for s in dataset_traits(dataset).splits if s != "train"):  # shapes: test, then test_unseen
            data = load_real(dataset, split, r, n=test_size, seed=data_seed, progress=progress)
            test[f"{split}@{r}"] = classifier_accuracy(net, data, skip[r])
    return test


def _train_record(command, seconds, epochs, batch_size, lr, seed, data_seed, n) -> dict:
    """How a shipped evaluation network was trained (stored in its checkpoint and README)."""
    return {"command": command or "python -m core.metrics " + " ".join(sys.argv[1:]),
            "seconds": round(seconds, 1), "epochs": epochs, "batch_size": batch_size, "lr": lr,
            "seed": seed, "data_seed": data_seed, "train_items": n, "torch": torch.__version__}


@torch.no_grad()
def normal_error(net: NormalPredictor, data: RealData, batch_size: int = 250) -> dict[str, float]:
    """Mean angular error (degrees) of ``net`` on real data: over object pixels and over all pixels."""
    net.eval()
    obj, allpx, n_obj = 0.0, 0.0, 0.0
    for i in range(0, len(data), batch_size):
        err = angular_error(net.predict(data.images[i:i + batch_size]), data.normals[i:i + batch_size])  # [B,1,H,W]
        m = data.mask[i:i + batch_size]
        obj += float((err * m).sum())
        n_obj += float(m.sum())
        allpx += float(err.sum())
    return {"object_deg": obj / max(n_obj, 1.0), "all_deg": allpx / data.normals[:, :1].numel()}


def train_normal_predictor(out: str | Path, epochs: int = 6, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                           data_seed: int = 0, width: int = 8, train_size: int | None = None,
                           test_size: int | None = None, progress: bool = True, command: str | None = None) -> dict:
    """Train a :class:`NormalPredictor` on ``shapes`` (train split) and write it to ``out``.

    Each item of a batch is drawn at a native resolution (:data:`TRAIN_RESOLUTIONS`); the prediction is
    resized to that resolution and compared with the native normals (loss 1 − cos, every pixel), the
    same path :func:`core.metrics.normal_consistency` takes.

    Args:
        out: checkpoint directory to write.
        epochs: passes over the train split.
        batch_size: images per step.
        lr: peak learning rate (AdamW, cosine decay).
        seed: network init and batch order.
        data_seed: ``shapes`` data seed.
        width: network width (see :class:`NormalPredictor`).
        train_size: use only the first ``train_size`` training items (tests).
        test_size: measure the error on only the first ``test_size`` test items (tests).
        progress: show progress bars.
        command: the command line to record (default: ``sys.argv``).
    Returns:
        The checkpoint's JSON config (with the test errors).
    """
    t0 = time.time()
    out = Path(out)
    train = {r: load_real("shapes", "train", r, n=train_size, seed=data_seed, normals=True, progress=progress)
             for r in TRAIN_RESOLUTIONS}
    arch = dict(in_channels=3, resolution=64, width=width)
    torch.manual_seed(seed)
    net = NormalPredictor(**arch)
    gen = torch.Generator().manual_seed(seed)
    n = len(train[64])
    resolutions = list(TRAIN_RESOLUTIONS)

    def batch_loss(idx: torch.Tensor, res: torch.Tensor) -> torch.Tensor:
        x = torch.cat([prepare_images(train[r].images[idx[res == r]], 3, net.resolution) for r in resolutions])
        pred = net(x)  # [B, 3, 64, 64], items grouped by resolution
        loss, start = 0.0, 0
        for r in resolutions:  # compare at each item's native resolution, as normal_consistency does
            sel = idx[res == r]
            if len(sel):
                p = F.interpolate(pred[start:start + len(sel)], size=(r, r), mode="bilinear", align_corners=False,
                                  antialias=True) if r != net.resolution else pred[start:start + len(sel)]
                cos = (F.normalize(p, dim=1) * train[r].normals[sel]).sum(1)  # [b, r, r]
                loss = loss + (1.0 - cos).mean() * len(sel) / len(idx)
                start += len(sel)
        return loss

    _fit(net, batch_loss, n, epochs, batch_size, lr, gen, "train NormalPredictor", 4, progress)
    net.eval()
    seconds = time.time() - t0
    test = {f"test@{r}": normal_error(net, load_real("shapes", "test", r, n=test_size, seed=data_seed, normals=True))
            for r in resolutions}
    meta = {
        "kind": NORMALS_KIND, "dataset": "shapes", "arch": arch,
        "title": "NormalPredictor for `shapes`",
        "description": (f"A {sum(p.numel() for p in net.parameters()):,}-parameter U-Net at 64x64 predicting unit "
                        "surface normals; used by `core.metrics.normal_consistency`. Test numbers are mean "
                        "angular errors in degrees on native test renders at each resolution, over object "
                        "pixels and over all pixels (the flat background is easy)."),
        "train": _train_record(command, seconds, epochs, batch_size, lr, seed, data_seed, n),
        "test": test,
    }
    write_checkpoint(out, net, meta)
    _make_readme(out, meta)
    return meta


__all__ = [
    "EvalClassifier", "LoadedClassifier", "NormalPredictor", "classifier_accuracy",
    "default_classifier_path", "load_classifier", "load_normal_predictor", "match_channels", "prepare_images",
    "train_classifier", "train_normal_predictor", "unresolvable_attributes",
]
