"""The probe that chose the stacked study's dense-D dropout rate on the shapes val split (issue #18; it ran as
``scripts/stacked_dropout_probes.sh``, commit 528ad56; docs/stacked.md). The paper says its dense D has "dropout"
and gives no rate. It predates the health gates, so its rule does not ask for them."""
from bench.sweep import Candidate, Rule, Sweep

# the dense Stage-I (bench/tables/stacked.py ``_stage1`` at quick: a single GAN at 32 px for stage1_steps) under
# its RMSprop rates, with the paper's BN, which the dense D had then (dense_d_norm came later, issue #27)
BASE = {"resolution": 32, "model.stage2_steps": 0, "model.optimizer": "rmsprop", "model.lr_g": 4e-4,
        "model.lr_d": 8e-4, "model.dense_d_norm": "batch"}

SWEEP = Sweep(
    name="stacked-dense-dropout",
    paper="stacked",
    dataset="shapes",
    preset="quick",
    rows=("single-dense",),
    candidates=(
        Candidate("p0.1", {**BASE, "model.dense_dropout": 0.1}),
        Candidate("p0.3", {**BASE, "model.dense_dropout": 0.3}, "the first guess"),
        Candidate("p0.5", {**BASE, "model.dense_dropout": 0.5}),
    ),
    seeds=(0, 1),
    rule=Rule(gates=False, minimise="fid", keep="p0.3", margin=1.0),
    metrics=("fid", "kid_mean", "precision", "recall"),
    question="Which dropout rate should the dense discriminator of the stacked study use?",
    issue="#18",
    notes=("Measured then (val FID, n 1,000, mean of seeds 0 and 1, per seed): p0.1 47.7 (47.2, 48.2), p0.3 48.9 "
           "(52.8, 45.1), p0.5 50.5 (51.1, 49.9); recall 0 for all three. p0.1 taken (dense_dropout 0.1 since).",
           "The old script scored with `core.metrics score --split val --n 1000` at 32 px (evaluation seed 0); the "
           "sweep scores through the table's settings (seed 2024, images resized to its 64 px), so its FIDs will "
           "differ. The rule's margin (1.0) is small next to the seed spread then."),
)
