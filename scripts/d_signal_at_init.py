"""Issue #27: how much signal each no-BN discriminator of the S²-GAN and stacked-study `quick` presets has at
initialisation, under the reference codes' N(0, 0.02) and under He-normal (``core.nn.init_discriminator``).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/d_signal_at_init.py

For each D, freshly built (seed 0, eval mode: no dropout) and fed 128 real `shapes` training items at its own
input (normal maps for the Structure-D, images for the others, [image ‖ normals] for the conditional Style-D):
the standard deviation of its logits across the items, and the mean norm of the gradient of the summed logits
with respect to each input (what a generator would receive). Nothing is trained; no score of any split is read.
"""
from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.data import load_dataset  # noqa: E402
from core.models.s2gan import StructureDiscriminator, StyleDiscriminator, resize_normals  # noqa: E402
from core.models.stacked import make_discriminator  # noqa: E402
from core.nn import D_INITS  # noqa: E402
from core.resolve import build_config  # noqa: E402


def signal(build, inputs: list[torch.Tensor], init: str) -> tuple[float, float]:
    """(logit std over items, mean per-item gradient norm) of ``build(init)`` on ``inputs``."""
    torch.manual_seed(0)
    D = build(init).eval()
    xs = [x.clone().requires_grad_(True) for x in inputs]
    out = D(*xs)
    out.sum().backward()
    return float(out.detach().std()), float(torch.cat([x.grad.flatten(1) for x in xs], 1).norm(dim=1).mean())


def cases() -> list[tuple[str, object, list[torch.Tensor]]]:
    s2 = build_config("s2gan", "quick").model
    data32 = load_dataset("shapes", split="train", resolution=32)
    img32 = torch.stack([data32[i]["image"] for i in range(128)])                 # [128, 3, 32, 32]
    nrm32 = torch.stack([data32[i]["normals"] for i in range(128)])               # [128, 3, 32, 32]
    out = [("s2gan Structure-D (24²)",
            lambda init: StructureDiscriminator(s2.structure_ndf, s2.structure_size, init=init),
            [resize_normals(nrm32, s2.structure_size)]),
           ("s2gan Style-D (32², conditional)",
            lambda init: StyleDiscriminator(s2.style_ndf, 32, 3, 3, init=init), [img32, nrm32])]
    data64 = load_dataset("shapes", split="train", resolution=64)
    img64 = torch.stack([data64[i]["image"] for i in range(128)])                 # [128, 3, 64, 64]
    for layer in ("dense", "conv", "deepconv"):
        cfg = build_config("stacked", "quick", {"model.layer": layer, "model.mode": "single"}).model

        out.append((f"stacked {layer} D (64²)",
                    lambda init, cfg=cfg: make_discriminator(dataclasses.replace(cfg, d_init=init), 3, 64), [img64]))
    return out


def main() -> None:
    print("| discriminator | init | logit std | gradient per input |")
    print("|---|---|---|---|")
    for name, build, inputs in cases():
        for init in D_INITS:
            sd, grad = signal(build, inputs, init)
            print(f"| {name} | {init} | {sd:.2g} | {grad:.2g} |")


if __name__ == "__main__":
    main()
