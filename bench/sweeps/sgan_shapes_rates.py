"""The probe that chose SGAN's quick rates on shapes before issue #26 (it ran as scripts/sgan_shapes_probes.sh;
docs/sgan.md): four (G, D, Q-head) rate settings, decided on val conditional accuracy. Kept as data so it can
be rerun; it declares no gates (it predates them), so its rule does not ask for them."""
from bench.sweep import Candidate, Rule, Sweep

SWEEP = Sweep(
    name="sgan-shapes-rates",
    paper="sgan",
    dataset="shapes",
    preset="quick",
    rows=("sgan",),
    candidates=(
        Candidate("A", {"model.lr": 1e-4, "model.d_lr": 1e-3, "model.q_lr_scale": 10.0}, "the mnist5k quick rates then"),
        Candidate("B", {"model.lr": 1e-4, "model.d_lr": 1e-4, "model.q_lr_scale": 1.0}, "the reference code's rates"),
        Candidate("C", {"model.lr": 1e-4, "model.d_lr": 1e-4, "model.q_lr_scale": 10.0}, "reference D, fast Q heads"),
        Candidate("D", {"model.lr": 2e-4, "model.d_lr": 2e-4, "model.q_lr_scale": 10.0},
                  "DCGAN's usual rates, fast Q heads (taken)"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=False, maximise="cond_acc", tie=0.03, tie_break="fid"),
    metrics=("cond_acc", "fid", "diversity", "log:ent0", "log:ent1"),
    question="Which (G, D, Q-head) rates make SGAN draw the asked shape on shapes at quick?",
    issue="before #26",
    notes=("Measured then (scripts/sgan_shapes_probes.sh, core.metrics score on val, n 1,000): A 0.31 (FID 10.3), "
           "B 0.61 (23.5), C 0.68 (20.7), D 0.68 (19.3): D taken. A rerun scores through the table's evaluation "
           "settings, so its numbers may differ a little.",),
)
