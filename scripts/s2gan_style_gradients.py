"""Issue #27: which loss trains S²-GAN's Style-G, the adversarial term or the FCN constraint?

The Style-G's loss is L_adv + λ·L_fcn (λ = 0.1). For trained Style-GAN runs (``--run``, e.g. the cells of the
``s2gan-style-init`` and ``s2gan-style-balance`` sweeps) and, with ``--fresh CONFIG_RUN``, for the same networks
freshly initialised under both Style-D initialisations, this prints, averaged over ``--batches`` training
batches of 64 real (image, normals) pairs with fresh style noise:

- ``|g_adv|`` and ``|g_fcn|``: the norms of the two terms' gradients on the Style-G's parameters (λ included);
- ``cos``: the cosine between them;
- ``share_adv``: |g_adv|² / (|g_adv|² + |g_fcn|²), how much of the update's direction the adversarial term sets
  (Adam normalises the sum, so a term far smaller than the other barely steers G);
- ``d_sd``: the spread (std) of the Style-D's logits across the real pairs (does D see anything?).

With ``--z-share``, for each trained run it also prints how much z moves the Style-G: over 8 training maps × 8
style noises, the std of each stage's activation across z at a fixed map, as a share of its std across maps at a
fixed z (``z/map``), at the trunk's first conv (on the concatenation of the two branches), at its middle and
at the image.

Only training-split data and fresh noise are used; no evaluation score is read.

    OMP_NUM_THREADS=1 python scripts/s2gan_style_gradients.py --run RUN [RUN ...] [--fresh RUN]
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.checkpoint import find_checkpoint, load_submodule, load_weights, read_meta  # noqa: E402
from core.data import load_dataset  # noqa: E402
from core.losses import bce  # noqa: E402
from core.models import DataInfo  # noqa: E402
from core.models.s2gan import normal_loss, resize_normals, sample_uniform  # noqa: E402
from core.resolve import load_config  # noqa: E402
from core.train import build_model, frozen_networks  # noqa: E402


def load(run: Path, style_d_init: str | None = None):
    """(model, cfg): the run's trained model, or (with ``style_d_init``) its networks freshly initialised with
    that Style-D initialisation; the frozen FCN is loaded either way."""
    ckpt = find_checkpoint(run)
    meta = read_meta(ckpt)
    cfg = load_config(meta["config"])
    if style_d_init is not None:
        cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, style_d_init=style_d_init))
    model = build_model(cfg, DataInfo(**meta["data_info"]))
    if style_d_init is None:
        load_weights(ckpt, model)
    for name, (path, source) in frozen_networks(cfg).items():
        load_submodule(model, name, path, source)
    return model, cfg


def measure(model, cfg, batches: int, seed: int = 0) -> dict[str, float]:
    data = load_dataset("shapes", split="train", resolution=cfg.resolution, seed=cfg.dataset_seed)
    gen = torch.Generator().manual_seed(seed)
    G, D, Fcn = model.netG_style, model.netD_style, model.netF
    G.train(), D.train(), Fcn.eval()
    params = [p for p in G.parameters() if p.requires_grad]
    out = {"|g_adv|": 0.0, "|g_fcn|": 0.0, "cos": 0.0, "share_adv": 0.0, "d_sd": 0.0}
    for _ in range(batches):
        idx = torch.randint(len(data), (64,), generator=gen).tolist()
        items = [data[i] for i in idx]
        image = torch.stack([it["image"] for it in items])                              # [B, C, R, R]
        normals = resize_normals(torch.stack([it["normals"] for it in items]), image.shape[-1])  # [B, 3, R, R]
        torch.manual_seed(int(torch.randint(1 << 30, (1,), generator=gen)))
        z = sample_uniform(64, cfg.model.style_z_dim, image.device)
        fake = G(normals, z)
        g_adv = torch.autograd.grad(bce(D(fake, normals), True), params, retain_graph=True)
        g_fcn = torch.autograd.grad(cfg.model.fcn_weight * normal_loss(Fcn, Fcn(fake), normals), params)
        a = torch.cat([g.flatten() for g in g_adv])
        f = torch.cat([g.flatten() for g in g_fcn])
        out["|g_adv|"] += float(a.norm()) / batches
        out["|g_fcn|"] += float(f.norm()) / batches
        out["cos"] += float(torch.nn.functional.cosine_similarity(a, f, dim=0)) / batches
        out["share_adv"] += float(a.norm() ** 2 / (a.norm() ** 2 + f.norm() ** 2)) / batches
        with torch.no_grad():
            out["d_sd"] += float(D(image, normals).float().std()) / batches
    return out


@torch.no_grad()
def z_share(model, cfg, maps: int = 8, styles: int = 8, seed: int = 0) -> dict[str, float]:
    """``{stage: std across z at a fixed map / std across maps at a fixed z}`` of the Style-G in eval mode."""
    data = load_dataset("shapes", split="train", resolution=cfg.resolution, seed=cfg.dataset_seed)
    gen = torch.Generator().manual_seed(seed)
    G = model.netG_style.eval()
    idx = torch.randint(len(data), (maps,), generator=gen).tolist()
    normals = resize_normals(torch.stack([data[i]["normals"] for i in idx]), cfg.resolution)  # [M, 3, R, R]
    z = torch.rand(styles, cfg.model.style_z_dim, generator=gen) * 2 - 1                     # [S, Z]
    n = normals.repeat_interleave(styles, 0)                                                 # [M·S, 3, R, R]
    zz = z.repeat(maps, 1)                                                                   # [M·S, Z]
    stages = {"first trunk conv": G.trunk[0], "trunk middle": G.trunk[6], "image": G.trunk[-1]}
    acts = {}
    hooks = [m.register_forward_hook(lambda _m, _i, o, k=k: acts.__setitem__(k, o)) for k, m in stages.items()]
    G(n, zz)
    for h in hooks:
        h.remove()
    out = {}
    for k, a in acts.items():
        a = a.reshape(maps, styles, -1)
        out[k] = float(a.std(1).mean() / a.std(0).mean())   # across z at a fixed map / across maps at a fixed z
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", nargs="*", type=Path, default=[], help="trained Style-GAN runs (or checkpoints)")
    p.add_argument("--fresh", type=Path, default=None, help="a run whose config builds fresh networks")
    p.add_argument("--batches", type=int, default=4)
    p.add_argument("--z-share", action="store_true", help="also how much z moves each stage of the trained Style-Gs")
    a = p.parse_args(argv)
    torch.manual_seed(0)
    rows = []
    if a.fresh is not None:
        for init in ("normal", "kaiming"):
            rows.append((f"fresh, Style-D {init}", *load(a.fresh, init)))
    for run in a.run:
        model, cfg = load(run)
        m = cfg.model
        rows.append((f"{run.name} (Style-D {m.style_d_init}, D lr {m.style_d_lr or m.lr:g}, margin "
                     f"{'on' if m.margin_rule else 'off'}, seed {cfg.model_seed})", model, cfg))
    print("| model | |g_adv| | |g_fcn| | cos | share_adv | d_sd |")
    print("|---|---|---|---|---|---|")
    for name, model, cfg in rows:
        r = measure(model, cfg, a.batches)
        print(f"| {name} | {r['|g_adv|']:.3g} | {r['|g_fcn|']:.3g} | {r['cos']:+.2f} | {r['share_adv']:.3f} | "
              f"{r['d_sd']:.3g} |", flush=True)
    if a.z_share:
        print("\n| model | z/map at the first trunk conv | trunk middle | image |\n|---|---|---|---|")
        for name, model, cfg in rows[2 if a.fresh is not None else 0:]:
            r = z_share(model, cfg)
            print(f"| {name} | " + " | ".join(f"{v:.3f}" for v in r.values()) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
