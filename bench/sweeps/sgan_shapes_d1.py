"""Issue #26 on shapes, after sgan-shapes-init (no candidate eligible: with He-initialised D trunks Q0 reads z0
on shapes too, but every candidate's SGAN covered nothing of val, recall 0, diversity 0.13-0.24 against 0.30)
and after sgan-mnist5k-d1 (on mnist5k, G1 learned E's features only with D1 at 1e-3). Does a faster D1 make the
shapes SGAN healthy? Written before any candidate ran."""
from bench.sweep import Candidate, Rule, Sweep

HE = {"model.d_init": "kaiming", "model.lr": 2e-4, "model.d_lr": 2e-4}

SWEEP = Sweep(
    name="sgan-shapes-d1",
    paper="sgan",
    dataset="shapes",
    preset="quick",
    rows=("sgan",),
    candidates=(
        Candidate("he-d1x5", {**HE, "model.q_lr_scale": 10.0, "model.d1_lr_scale": 5.0},
                  "sgan-shapes-init's he-shapes-rates with D1 at 1e-3"),
        Candidate("he-d1x10", {**HE, "model.q_lr_scale": 10.0, "model.d1_lr_scale": 10.0},
                  "the same with D1 at 2e-3"),
        Candidate("he-fast-q-d1x5", {**HE, "model.q_lr_scale": 50.0, "model.d1_lr_scale": 5.0},
                  "sgan-shapes-init's he-fast-q (Q heads at 1e-2) with D1 at 1e-3"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=True, maximise="cond_acc", tie=0.03, tie_break="fid"),
    metrics=("cond_acc", "fid", "diversity", "recall"),
    question="With D1 faster, does SGAN on shapes pass every gate on val, and at which setting?",
    issue="#26",
)
