"""Issue #26 on shapes: does the fix found on mnist5k (He-initialised D trunks, so that D0's trunk keeps z0 for
Q0 to read) make SGAN on shapes healthy, and at which rates? Written before any of these candidates ran on
shapes. The shapes quick setting before #26 (reference init, G 2e-4, D 2e-4, Q ×10) is not a candidate: its
shipped seed-0 model already fails two gates on val (results/sgan-shapes/health.csv: diversity 0.098 against
0.30, recall 0), and its Q0 loss sat at 1/12."""
from bench.sweep import Candidate, Rule, Sweep

HE = {"model.d_init": "kaiming"}

SWEEP = Sweep(
    name="sgan-shapes-init",
    paper="sgan",
    dataset="shapes",
    preset="quick",
    rows=("sgan",),
    candidates=(
        Candidate("he-shapes-rates", {**HE, "model.lr": 2e-4, "model.d_lr": 2e-4, "model.q_lr_scale": 10.0},
                  "He trunks at the shapes rates chosen before (G 2e-4, D 2e-4, Q heads 2e-3)"),
        Candidate("he-mnist-rates", {**HE, "model.lr": 1e-4, "model.d_lr": 1e-4, "model.q_lr_scale": 100.0},
                  "He trunks at the mnist5k quick rates of #26 (G 1e-4, D 1e-4, Q heads 1e-2)"),
        Candidate("he-fast-q", {**HE, "model.lr": 2e-4, "model.d_lr": 2e-4, "model.q_lr_scale": 50.0},
                  "He trunks at the shapes rates with the Q heads at 1e-2"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=True, maximise="cond_acc", tie=0.03, tie_break="fid"),
    metrics=("cond_acc", "fid", "diversity", "recall"),
    question="Which setting makes SGAN on shapes pass its health gates on val (Q heads below 0.9 × chance, "
             "diversity at least half of real, recall at least 0.05, FID at most half of noise's)?",
    issue="#26",
)
