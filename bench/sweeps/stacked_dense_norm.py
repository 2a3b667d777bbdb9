"""The probe that chose the stacked study's dense-D normalisation on the shapes val split (issue #27; it ran as
``scripts/stacked_dense_probes.py``, commit eba8061; docs/stacked.md, "Why the dense GANs drew static"). The
paper's BN right before D's linear head makes D blind to its batch's mean logit. The health gates were reported
beside, not used to choose, so the rule does not ask for them (``health.csv`` still reports them)."""
from bench.sweep import Candidate, Rule, Sweep

SWEEP = Sweep(
    name="stacked-dense-norm",
    paper="stacked",
    dataset="shapes",
    preset="quick",
    rows=("single-dense",),
    candidates=(
        Candidate("batch", {"model.dense_d_norm": "batch"}, "the paper's BN"),
        Candidate("layer", {"model.dense_d_norm": "layer"}, "LayerNorm, per sample"),
        Candidate("none", {"model.dense_d_norm": "none"}, "no normalisation"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=False, minimise="fid", keep="batch", margin=1.0),
    metrics=("fid", "recall", "diversity", "log:d_real", "log:d_fake", "log:loss_d"),
    question="Which normalisation lets the dense D of the stacked study learn (the dense single GAN at 64 px, "
             "quick's 600 + 600 steps)?",
    issue="#27",
    notes=("Measured then (val, n 1,000; FID per seed, mean): batch 50.5, 44.6, 47.6; layer 38.9, 32.3, 35.6; none "
           "34.7, 30.0, 32.3; recall 0 for all; final d_real / d_fake batch 0.50 / 0.50, layer 0.48–0.55 / "
           "0.50–0.52, none 0.54–0.55 / 0.46–0.47. none taken (dense_d_norm 'none' since).",
           "The same unit (the table's single-dense row) and evaluation settings (seed 2024, 64 px) as the old "
           "script. It reported the last logged d_real, d_fake and loss_d; the sweep's log: metrics are the mean "
           "over the last tenth of the steps."),
)
