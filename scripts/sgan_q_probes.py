"""Probes for issue #26: why SGAN's entropy loss does not act (docs/sgan.md, "Why the entropy loss did not act").

Every number comes from training-split images or fresh noise draws; no evaluation score of any split is read.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py readout [--checkpoint DIR ...]
        H2: how much of z0 can be read back, and from what. For each SGAN checkpoint (and a freshly
        initialised one), with G in training mode (batch statistics, as D and Q see fakes in training): fakes
        from G0 fed real fc3 of training digits; the mean squared error (against 1/12, chance for U[0, 1])
        of z0 regressed by least squares (ridge) on (a) the trunk features of the model's own D0, (b) the
        pixels, (c) G0's own z0 embedding (what G0 lets through), and (d) the checkpoint's Q0 head itself.
        Fitted on 20,000 draws, scored on 5,000 others.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py standalone [--checkpoint DIR ...] [--init kaiming]
        H2: a fresh Q with D0's architecture trained on λ_ent·L_ent alone on a checkpoint's frozen G0 (no
        adversarial loss): its held-out L_ent after 400 and 1,500 steps.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py trunk [--checkpoint DIR ...]
        H2: D0's trunk layer by layer (per-unit spread across real digits; the first checkpoint also freshly
        initialised) and, over fakes, how much of it is one direction and how that direction relates to the
        adversarial logit; and how much Q0's outputs move.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py fc3source --checkpoint DIR ...
        After the pilot (why SGAN's recall is low): each checkpoint scored on `val` (FID, recall, diversity; the
        evaluation classifier, 1,000 images, evaluation seed 2024) twice: as it samples (G1's fc3 → G0), and
        with G0 fed the real fc3 E(x) of a training digit of the asked class (the same z0 seeds). If G0 on
        real fc3 covers the data and G0 on G1's fc3 does not, the level that lost coverage is G1.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py valscores --checkpoint DIR ...
        Each checkpoint on `val` as it samples (1,000 images, evaluation seed 2024): recall, within-class
        diversity and conditional accuracy (the evaluation classifier), and the z0 spread at a fixed fc3
        (`bench.sgan_figures.z0_spread`).

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py fc3spread --checkpoint DIR ...
        After fc3source: does G1 cover E's features? Per class, G1's fc3 for 500 z1 draws against E(x) of the
        class's training digits: the ratio of their per-dimension spreads (std, averaged over dimensions),
        and a recall in fc3 space (the share of real fc3 with a generated one inside the real point's
        distance to its 3rd-nearest real neighbour, as improved precision/recall define it). Mean over classes.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/sgan_q_probes.py grads --steps 1400 [--set model.x=y ...]
        H1 and H4: trains the quick SGAN on mnist5k (E from the shipped checkpoint) and, every 25 steps, logs
        the norm of the gradient of each weighted generator term (λ_adv·L_adv, λ_cond·L_cond, λ_ent·L_ent) on
        G0's and on G1's parameters, with the training-batch losses. Writes <out>/grads.jsonl.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.models import sgan as S  # noqa: E402

CHANCE = 1.0 / 12.0


def _ridge(xtr, ytr, xte, yte, lam=1e-3):
    """Least squares with a bias and a small ridge on standardised inputs: test MSE per noise dimension."""
    mu, sd = xtr.mean(0), xtr.std(0).clamp_min(1e-6)
    a, b = (xtr - mu) / sd, (xte - mu) / sd
    a = torch.cat([a, torch.ones(len(a), 1)], 1).double()
    b = torch.cat([b, torch.ones(len(b), 1)], 1).double()
    w = torch.linalg.solve(a.T @ a + lam * len(a) * torch.eye(a.shape[1], dtype=a.dtype), a.T @ ytr.double())
    return float(((b @ w).float() - yte).pow(2).mean())


@torch.no_grad()
def _draws(model, images, n, batch=64, seed=0):
    """n fakes from G0 (training mode: batch statistics) fed the real fc3 of training digits, with their z0,
    the D0 trunk features, G0's z0 embedding and the model's own Q0 output."""
    g = torch.Generator().manual_seed(seed)
    model.netG0.train()
    cfg = model.cfg
    out = {k: [] for k in ("z", "pix", "trunk", "emb", "q", "conv1", "conv2", "conv3")}
    for _ in range(n // batch):
        idx = torch.randint(0, len(images), (batch,), generator=g)
        h1 = model.netE.features(images[idx])
        z = torch.rand(batch, cfg.z0_dim, generator=g)
        fake = model.netG0(h1, z)
        out["z"].append(z)
        out["pix"].append(fake.flatten(1))
        t = fake
        for i, layer in enumerate(model.netD0.trunk):  # the trunk's layers: (conv, lReLU) ×3, flatten, FC, lReLU
            t = layer(t)
            if i in (1, 3, 5):
                out[f"conv{i // 2 + 1}"].append(t.flatten(1))
        out["trunk"].append(t)
        out["emb"].append(model.netG0.noise(z))
        out["q"].append(model.netD0.q(out["trunk"][-1]))
    model.netG0.eval()
    return {k: torch.cat(v) for k, v in out.items()}


@torch.no_grad()
def _z0_spread(model, images, n=8, batch=64, seed=3):
    """Pixel std across ``n`` z0 draws at a fixed fc3 (G0 in training mode, fed real fc3), mean over pixels
    and fc3; in [-1, 1] units."""
    g = torch.Generator().manual_seed(seed)
    model.netG0.train()
    h1 = model.netE.features(images[torch.randint(0, len(images), (batch,), generator=g)])
    x = torch.stack([model.netG0(h1, torch.rand(batch, model.cfg.z0_dim, generator=g)) for _ in range(n)])
    model.netG0.eval()
    return float(x.std(0).mean())


def _participation(f):
    """Effective rank of features ``f`` [N, K]: (Σλ)² / Σλ² of their covariance's eigenvalues."""
    ev = torch.linalg.eigvalsh(torch.cov(f.T.double())).clamp_min(0)
    return float(ev.sum() ** 2 / ev.pow(2).sum())


def readout(args):
    from core.data import load_dataset
    from core.pipeline import Pipeline

    ds = load_dataset("mnist5k", split="train", resolution=28)
    images = torch.stack([ds[i]["image"] for i in range(len(ds))])  # [N, 1, 28, 28] in [-1, 1]
    rows = []
    for ckpt in args.checkpoint:
        torch.manual_seed(0)
        pipe = Pipeline.from_checkpoint(ROOT / ckpt)
        models = [(ckpt, pipe.model)]
        if ckpt == args.checkpoint[0] and not args.no_fresh:  # the same architecture freshly initialised (its own E kept)
            fresh = S.SGAN(pipe.model.cfg, pipe.info).eval()
            fresh.netE.load_state_dict(pipe.model.netE.state_dict())
            models.append(("fresh init (same E)", fresh))
        for name, model in models:
            tr, te = _draws(model, images, 20000, seed=1), _draws(model, images, 5000, seed=2)
            row = {"model": name,
                   "pixel std over z0 at fixed fc3": _z0_spread(model, images),
                   "own Q0 head": float((te["q"] - te["z"]).pow(2).mean()),
                   "ridge on D0 trunk": _ridge(tr["trunk"], tr["z"], te["trunk"], te["z"]),
                   **{f"ridge on D0 {k}": _ridge(tr[k], tr["z"], te[k], te["z"])
                      for k in ("conv3", "conv2", "conv1") if not args.no_conv},
                   "D0 trunk effective rank": _participation(te["trunk"]),
                   "ridge on pixels": _ridge(tr["pix"], tr["z"], te["pix"], te["z"]),
                   "ridge on G0's z0 embedding": _ridge(tr["emb"], tr["z"], te["emb"], te["z"])}
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"chance (predict 0.5): {CHANCE:.4f}")
    return rows


def standalone(args):
    """A fresh Q with D0's architecture (the quick widths and rates: trunk 1e-3, head 1e-2), trained on
    λ_ent·L_ent alone on a checkpoint's G0 (training mode, fed real fc3 of training digits)."""
    from core.data import load_dataset
    from core.pipeline import Pipeline

    ds = load_dataset("mnist5k", split="train", resolution=28)
    images = torch.stack([ds[i]["image"] for i in range(len(ds))])
    for ckpt in args.checkpoint:
        m = Pipeline.from_checkpoint(ROOT / ckpt).model
        m.netG0.train()
        torch.manual_seed(0)
        D = S.ImageDiscriminator(1, 28, tuple(m.cfg.d0_widths), m.cfg.d0_hidden, m.cfg.z0_dim, args.init)
        opt = torch.optim.Adam([{"params": [p for n, p in D.named_parameters() if not n.startswith("q.")], "lr": 1e-3},
                                {"params": D.q.parameters(), "lr": 1e-2}], betas=(0.5, 0.999))

        @torch.no_grad()
        def draw(b):
            z = torch.rand(b, m.cfg.z0_dim)
            return m.netG0(m.netE.features(images[torch.randint(0, len(images), (b,))]), z), z

        scores = {}
        for step in range(1, max(args.steps) + 1):
            x, z = draw(64)
            loss = 10 * S.entropy_loss(D(x)[1], z)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if step in args.steps:
                with torch.no_grad():
                    x, z = draw(2000)
                    scores[step] = round(float(S.entropy_loss(D(x)[1], z)), 4)
        print(json.dumps({"model": ckpt, "init": args.init, "held-out L_ent by step": scores}), flush=True)


@torch.no_grad()
def trunk(args):
    """D0's trunk on 512 training digits and on fakes: the per-unit spread across samples layer by layer, the
    share of the trunk's variance over fakes in its first principal direction, that direction's correlation
    with D0's adversarial logit, and the spread of Q0's outputs."""
    from core.data import load_dataset
    from core.pipeline import Pipeline

    ds = load_dataset("mnist5k", split="train", resolution=28)
    images = torch.stack([ds[i]["image"] for i in range(512)])
    for ckpt in args.checkpoint:
        pipe = Pipeline.from_checkpoint(ROOT / ckpt)
        models = [(ckpt, pipe.model)]
        if ckpt == args.checkpoint[0]:
            torch.manual_seed(0)
            models.append(("fresh init", S.SGAN(pipe.model.cfg, pipe.info)))
        for name, m in models:
            t, spread = images, [round(float(images.std(0).mean()), 4)]
            for i, layer in enumerate(m.netD0.trunk):
                t = layer(t)
                if i in (1, 3, 5, 8):
                    spread.append(round(float(t.flatten(1).std(0).mean()), 4))
            m.netG0.train()
            torch.manual_seed(0)
            f = m.netD0.trunk(m.netG0(pipe.model.netE.features(images), torch.rand(512, m.cfg.z0_dim)))
            fc = f - f.mean(0)
            _, sv, v = torch.linalg.svd(fc, full_matrices=False)
            adv = m.netD0.adv(f).flatten()
            print(json.dumps({"model": name, "spread: pixels, conv1, conv2, conv3, trunk (real digits)": spread,
                              "fakes: top direction's share": round(float(sv[0] ** 2 / sv.pow(2).sum()), 3),
                              "its correlation with the adv logit": round(float(torch.corrcoef(torch.stack([fc @ v[0], adv]))[0, 1]), 3),
                              "Q0 output std over fakes": round(float(m.netD0.q(f).std(0).mean()), 4)}), flush=True)


def grads(args):
    from core.resolve import build_config, load_config
    from core.train import train

    sets = {"frozen": ['netE=' + str(ROOT / "results/checkpoints/sgan-mnist5k") + ':netE']}
    cfg = build_config("sgan", "quick", dataset="mnist5k", overrides=_overrides(args))
    cfg = load_config({**cfg.to_dict(), **sets, "num_threads": 1})
    out = Path(args.out)
    log = out / "grads.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    state = {"step": 0}
    inner = S.generator_losses

    def logged(nets, mcfg, label, gen, z):
        res = inner(nets, mcfg, label, gen, z)
        state["step"] += 1
        if state["step"] % args.every == 0 or state["step"] == 1:
            rec = {"step": state["step"]}
            w = {"adv": mcfg.adv_weight, "cond": mcfg.cond_weight, "ent": mcfg.ent_weight}
            for level in ("0", "1"):
                if f"netG{level}" not in nets:
                    continue
                params = [p for p in nets[f"netG{level}"].parameters() if p.requires_grad]
                for term in ("adv", "cond", "ent"):
                    t = res.get(term + level)
                    if t is None or not t.requires_grad:
                        continue
                    for src in ("0", "1"):  # G1 also gets G0's terms in the joint phase (through scale_grad)
                        t = res.get(term + src)
                        if t is None or (src == "0" and level == "1" and not mcfg.stack):
                            continue
                        gs = torch.autograd.grad(w[term] * t, params, retain_graph=True, allow_unused=True)
                        sq = sum(float(g.pow(2).sum()) for g in gs if g is not None)
                        rec[f"|grad G{level}| {w[term]:g}*{term}{src}"] = sq ** 0.5
                    rec[f"{term}{level}"] = float(res[term + level].detach())
            with open(log, "a") as f:
                f.write(json.dumps(rec) + "\n")
        return res

    S.generator_losses = logged
    try:
        train(cfg, out / "run", progress=False)
    finally:
        S.generator_losses = inner
    print(log.read_text())


def _overrides(args):
    out = {}
    for kv in args.set or []:
        k, v = kv.split("=", 1)
        out[k] = json.loads(v)
    if args.steps:
        ind = round(args.steps * 1000 / 1400)
        out["model.independent_steps"], out["model.joint_steps"] = ind, args.steps - ind
    return out


class RealFc3:
    """A stand-in generator (``core.metrics.evaluate``'s GeneratorLike): G0 of ``pipe`` fed E(x) of a training
    digit of each asked class (the digit picked by the sample's z1 seed), with the sample's z0."""

    def __init__(self, pipe, images, labels):
        self.pipe, self.images, self.labels = pipe, images, labels
        self.resolution, self.conditions, self.noise_names = pipe.resolution, ("label",), ("z1", "z0")

    @torch.no_grad()
    def generate(self, captions=None, *, seeds, labels):
        noise = self.pipe.noise(seeds)
        model = self.pipe.model
        pick = []
        for i, c in enumerate(labels):
            pool = torch.nonzero(self.labels == int(c)).flatten()
            g = torch.Generator().manual_seed(int(seeds["z1"][i] if isinstance(seeds, dict) else seeds[i]))
            pick.append(pool[torch.randint(0, len(pool), (1,), generator=g)])
        h1 = model.netE.features(self.images[torch.cat(pick)])  # [B, fc3]
        return {"image": model.netG0(h1, S.uniform_noise(noise["z0"]))}


def _train_items(pipe) -> tuple[torch.Tensor, torch.Tensor]:
    """(images ``[N, C, R, R]``, labels ``[N]``) of the training split of the checkpoint's own dataset."""
    from core.data import load_dataset

    ds = load_dataset(pipe.cfg.dataset, split="train", resolution=int(pipe.cfg.resolution))
    return torch.stack([ds[i]["image"] for i in range(len(ds))]), torch.as_tensor(ds.labels)


def fc3source(args):
    from core.metrics import evaluate
    from core.pipeline import Pipeline

    keys = ("fid", "recall", "precision", "diversity")
    print("| checkpoint | fc3 from | " + " | ".join(keys) + " |")
    for ck in args.checkpoint:
        pipe = Pipeline.from_checkpoint(ck)
        images, labels = _train_items(pipe)
        for name, gen in (("G1 (as sampled)", pipe), ("E(x), real items", RealFc3(pipe, images, labels))):
            s = evaluate(gen, pipe.cfg.dataset, metrics=["fid", "prc", "diversity"], n=1000, seed=2024, split="val",
                         data_seed=int(pipe.cfg.dataset_seed))
            print(f"| {ck} | {name} | " + " | ".join(f"{float(s[k]):.3f}" for k in keys) + " |", flush=True)


def _fc3_recall(real, fake, k=3):
    """The share of ``real`` rows with a ``fake`` row within the real row's k-th nearest real neighbour."""
    rr = torch.cdist(real, real)
    radius = rr.kthvalue(k + 1, dim=1).values  # [N] (the 0th neighbour is itself)
    return float((torch.cdist(real, fake).min(1).values <= radius).float().mean())


@torch.no_grad()
def fc3spread(args):
    from core.pipeline import Pipeline

    print("| checkpoint | G1/E spread | fc3 recall | fc3 precision |")
    for ck in args.checkpoint:
        pipe = Pipeline.from_checkpoint(ck)
        images, labels = _train_items(pipe)
        model = pipe.model
        ratio, rec, prec = [], [], []
        classes = sorted(set(labels.tolist()))
        for c in classes:
            real = model.netE.features(images[labels == c])  # [n_c, fc3]
            z1 = S.uniform_noise(pipe.noise({"z1": list(range(500)), "z0": list(range(500))})["z1"])
            fake = model.netG1(torch.full((500,), c, dtype=torch.long), z1)  # [500, fc3]
            ratio.append(float(fake.std(0).mean() / real.std(0).mean()))
            rec.append(_fc3_recall(real, fake))
            prec.append(_fc3_recall(fake, real))
        k = len(classes)
        print(f"| {ck} | {sum(ratio) / k:.3f} | {sum(rec) / k:.3f} | {sum(prec) / k:.3f} |", flush=True)


def valscores(args):
    from bench.sgan_figures import z0_spread
    from core.metrics import evaluate
    from core.pipeline import Pipeline

    print("| checkpoint | recall | diversity | cond_acc | z0 spread |")
    for ck in args.checkpoint:
        pipe = Pipeline.from_checkpoint(ck)
        s = evaluate(pipe, pipe.cfg.dataset, metrics=["prc", "diversity", "cond_acc"], n=1000, seed=2024, split="val",
                     data_seed=int(pipe.cfg.dataset_seed))
        print(f"| {ck} | {float(s['recall']):.3f} | {float(s['diversity']):.3f} | {float(s['cond_acc']):.3f} | "
              f"{z0_spread(pipe):.3f} |", flush=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("readout")
    r.add_argument("--checkpoint", nargs="+",
                   default=["results/checkpoints/sgan-mnist5k", "results/checkpoints/sgan-mnist5k-noent"])
    r.add_argument("--no-conv", action="store_true", help="skip the readouts of D0's convolutional layers")
    r.add_argument("--no-fresh", action="store_true", help="skip the freshly initialised model")
    a = sub.add_parser("standalone")
    a.add_argument("--checkpoint", nargs="+",
                   default=["results/checkpoints/sgan-mnist5k", "results/checkpoints/sgan-mnist5k-noent"])
    a.add_argument("--init", default="normal")
    a.add_argument("--steps", type=int, nargs="+", default=[400, 1500])
    t = sub.add_parser("trunk")
    t.add_argument("--checkpoint", nargs="+", default=["results/checkpoints/sgan-mnist5k"])
    v = sub.add_parser("valscores")
    v.add_argument("--checkpoint", nargs="+", default=["results/checkpoints/sgan-mnist5k"])
    f2 = sub.add_parser("fc3spread")
    f2.add_argument("--checkpoint", nargs="+", default=["results/checkpoints/sgan-mnist5k"])
    f = sub.add_parser("fc3source")
    f.add_argument("--checkpoint", nargs="+", default=["results/checkpoints/sgan-mnist5k"])
    g = sub.add_parser("grads")
    g.add_argument("--steps", type=int, default=0, help="total steps (split 1000:400 like quick); 0 = quick's")
    g.add_argument("--every", type=int, default=25)
    g.add_argument("--set", nargs="*", help="config overrides key=json, e.g. model.q_lr_scale=10")
    g.add_argument("--out", default="/tmp/sgan_grads")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    {"readout": readout, "grads": grads, "standalone": standalone, "trunk": trunk, "fc3source": fc3source,
     "fc3spread": fc3spread, "valscores": valscores}[args.cmd](args)


if __name__ == "__main__":
    main()
