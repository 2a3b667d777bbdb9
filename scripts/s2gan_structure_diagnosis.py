"""Issue #27: why S²-GAN's Structure-GAN collapses on `shapes` (docs/s2gan.md, "Why the Structure-GAN
collapses"). Trains the Structure-GAN alone with `quick`'s networks, optimiser and batch (the `structure`
phase of `core.models.s2gan`, its own classes and step order) and, every ``--every`` steps, logs what each
hypothesis needs. Every number comes from training-split maps or fresh noise; no evaluation score is read.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/s2gan_structure_diagnosis.py --steps 750 --out DIR [options]

Per log line (``DIR/diag.jsonl``):

- ``p_real``, ``p_fake``: D's mean probability on the training batch's real maps and on G's (is D learning?);
- ``logit_sd_real``: the spread of D's logits across real maps (does D's output carry any signal at all?);
- ``gin_fake``: the norm of ∂L_G/∂(map) per sample, and ``gin_pre``: the same pulled back through the
  per-pixel normalisation onto the tanh output v (``pre_ratio`` = their ratio: does the normalising layer
  shrink G's gradient near (0, 0, 1)?); ``v_norm``: |v| per pixel; ``tanh_sat``: the share of tanh outputs
  beyond ±0.99;
- ``spread``: the per-pixel std across 256 sampled maps, averaged (real training maps: ``real_spread``);
  ``tilted``: the share of sampled pixels tilted more than 5° from (0, 0, 1) (real: ``real_tilted``);
- ``fd8``: the pooled structure Fréchet distance of 1,000 sampled maps against 1,000 training maps (the
  measure of docs/s2gan.md's round 2: 8 × 8 average pools of 32² maps; all-flat 0.66), at ``--fd-every``.

Options change one thing each: ``--d-init kaiming`` (He-normal D for the leaky ReLU), ``--d-lr``,
``--g-lr``, ``--size`` (the Structure-G's side), ``--ngf``/``--ndf``, ``--d-center``, ``--d-steps`` (D updates
per G update), ``--no-d-dropout``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data import load_dataset  # noqa: E402
from core.losses import bce  # noqa: E402
from core.metrics.domain import structure_distance  # noqa: E402
from core.models.s2gan import StructureDiscriminator, StructureGenerator, resize_normals, sample_uniform  # noqa: E402
from core.nn import init_discriminator  # noqa: E402

FLAT_COS = float(np.cos(np.deg2rad(5.0)))


def g_forward(G: StructureGenerator, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(v, n): the tanh output and its per-pixel normalisation, n = v / |v| (what ``G(z)`` returns)."""
    v = G.net(z[:, :, None, None])
    return v, F.normalize(v, dim=1)


@torch.no_grad()
def sample(G: StructureGenerator, n: int, z_dim: int, gen: torch.Generator) -> torch.Tensor:
    G.eval()
    z = torch.rand(n, z_dim, generator=gen) * 2 - 1
    out = torch.cat([G(z[i:i + 250]) for i in range(0, n, 250)])
    G.train()
    return out


def stats(maps: torch.Tensor) -> dict:
    return {"spread": maps.std(0).mean().item(), "tilted": (maps[:, 2] < FLAT_COS).float().mean().item()}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=750)
    ap.add_argument("--every", type=int, default=50)
    ap.add_argument("--fd-every", type=int, default=250)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=24)
    ap.add_argument("--ngf", type=int, default=16)
    ap.add_argument("--ndf", type=int, default=16)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--g-lr", type=float, default=2e-4)
    ap.add_argument("--d-lr", type=float, default=2e-4)
    ap.add_argument("--d-init", choices=("normal", "kaiming"), default="normal")
    ap.add_argument("--d-center", action="store_true")
    ap.add_argument("--d-steps", type=int, default=1, help="D updates per G update (fresh real and fake batches)")
    ap.add_argument("--no-d-dropout", action="store_true", help="D without its dropout and spatial dropout")
    ap.add_argument("--out", type=Path, required=True)
    a = ap.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(a.seed)
    train = load_dataset("shapes", split="train", resolution=32)
    real_all = resize_normals(torch.stack([train[i]["normals"] for i in range(len(train))]), a.size)
    ref = real_all[:1000]
    real_stats = stats(real_all[:256])
    G, D = StructureGenerator(100, a.ngf, a.size), StructureDiscriminator(a.ndf, a.size, center=a.d_center)
    init_discriminator(D, a.d_init)
    if a.no_d_dropout:
        for m in D.modules():
            if isinstance(m, (torch.nn.Dropout, torch.nn.Dropout2d)):
                m.p = 0.0
    opt_g = torch.optim.Adam(G.parameters(), a.g_lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), a.d_lr, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(10_000 + a.seed)
    log = open(a.out / "diag.jsonl", "w")
    t0 = time.time()
    for step in range(1, a.steps + 1):
        for _ in range(a.d_steps):
            real = real_all[torch.randint(len(real_all), (a.batch,))]      # [B, 3, S, S]
            z = sample_uniform(a.batch, 100, real.device)
            v, fake = g_forward(G, z)                                       # [B, 3, S, S] each
            s_real, s_fake = D(real), D(fake.detach())
            loss_d = 0.5 * (bce(s_real, True) + bce(s_fake, False))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
        v.retain_grad()
        fake.retain_grad()
        loss_g = bce(D(fake), True)
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if step % a.every and step != 1:
            continue
        rec = {"step": step, "loss_d": loss_d.item(), "loss_g": loss_g.item(),
               "p_real": torch.sigmoid(s_real).mean().item(), "p_fake": torch.sigmoid(s_fake).mean().item(),
               "logit_sd_real": s_real.std().item(), "logit_sd_fake": s_fake.std().item(),
               "gin_fake": fake.grad.flatten(1).norm(dim=1).mean().item(),
               "gin_pre": v.grad.flatten(1).norm(dim=1).mean().item(),
               "v_norm": v.detach().norm(dim=1).mean().item(),
               "tanh_sat": (v.detach().abs() > 0.99).float().mean().item(),
               "real_spread": real_stats["spread"], "real_tilted": real_stats["tilted"],
               "seconds": round(time.time() - t0, 1)}
        rec["pre_ratio"] = rec["gin_pre"] / max(rec["gin_fake"], 1e-30)
        maps = sample(G, 1000 if step % a.fd_every == 0 else 256, 100, gen)
        rec.update(stats(maps[:256]))
        if step % a.fd_every == 0:
            rec["fd8"] = structure_distance(maps, ref)  # the registered structure_fd's measure
        print(json.dumps({k: (round(x, 5) if isinstance(x, float) else x) for k, x in rec.items()}), flush=True)
        log.write(json.dumps(rec) + "\n")
        log.flush()
    torch.save({"G": G.state_dict(), "D": D.state_dict(), "args": vars(a) | {"out": str(a.out)}}, a.out / "nets.pt")


if __name__ == "__main__":
    main()
