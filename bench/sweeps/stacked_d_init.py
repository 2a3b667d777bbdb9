"""Issue #27: the stacked study's discriminators start blind under DCGAN's N(0, 0.02) (none has BN; at quick's
widths their logits spread by 2e-5 (conv), 3e-3 (deep conv) and 1e-2 (dense) across real images at init,
against about 0.5 under He-normal: ``scripts/d_signal_at_init.py``, docs/stacked.md). The same cause stopped
S²-GAN's Structure-GAN and SGAN's Q heads. This sweep trains the three single GANs (each layer type's Stage-I
architecture at the full side, quick's 600 + 600 steps) under both initialisations.

Rule written before running: every candidate is eligible (the health gates are reported beside, in
``health.csv``); the lowest mean val FID over the three rows and seeds 0 and 1; the paper's ``normal`` stays
unless ``kaiming`` is lower by more than 1.0 and its mean recall is not lower."""
from bench.sweep import Candidate, Rule, Sweep

SWEEP = Sweep(
    name="stacked-d-init",
    paper="stacked",
    dataset="shapes",
    preset="quick",
    rows=("single-dense", "single-deepconv", "single-conv"),
    candidates=(
        Candidate("normal", {"model.d_init": "normal"}, "N(0, 0.02), DCGAN's (the paper gives none)"),
        Candidate("kaiming", {"model.d_init": "kaiming"}, "He-normal for the leaky ReLU"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=False, minimise="fid", keep="normal", margin=1.0, guards=(("recall", 0.0),)),
    metrics=("fid", "recall", "diversity", "log:d_real", "log:d_fake"),
    question="Does a He-initialised discriminator make the stacked study's single GANs learn (dense above all)?",
    issue="#27",
)
