"""Issue #26 on shapes, after sgan-shapes-d1 (no candidate eligible: he-d1x10 passed FID, diversity and both Q
gates but covered nothing of val, recall 0.0025) and after the level-0 diagnosis (G0 fed real fc3 covers nothing
either, so coverage is lost at level 0 first). The budget curve of the single conditional GAN, G0/D0 alone with
He-initialised trunks at the shapes rates (``scripts/budget_curve.py --paper sgan --dataset shapes --row
dcgan-adv-cond-ent --scale 4 --every 1400``, seed 0, val): recall 0.017 at quick's 1,400 steps, 0.199 at 2,800,
0.247 at 4,200, 0.301 at 5,600 (FID 21.3, 5.0, 5.6, 5.7). So G0 learns to cover shapes, only later than quick
stops. This sweep gives the stack he-d1x10's setting at 1.5x and 2x quick's steps (independent and joint alike).

Written before any candidate ran. Rule: eligible when every gate of the row passes (mean of seeds 0 and 1); then
the fewest steps (the candidates' order), so the budget grows no more than it must."""
from bench.sweep import Candidate, Rule, Sweep

HE_D1X10 = {"model.d_init": "kaiming", "model.lr": 2e-4, "model.d_lr": 2e-4, "model.q_lr_scale": 10.0,
            "model.d1_lr_scale": 10.0}

SWEEP = Sweep(
    name="sgan-shapes-budget",
    paper="sgan",
    dataset="shapes",
    preset="quick",
    rows=("sgan",),
    candidates=(
        Candidate("he-d1x10-1.5x", {**HE_D1X10, "model.independent_steps": 1500, "model.joint_steps": 600},
                  "he-d1x10 at 1.5x quick's steps (1,500 + 600)"),
        Candidate("he-d1x10-2x", {**HE_D1X10, "model.independent_steps": 2000, "model.joint_steps": 800},
                  "he-d1x10 at 2x quick's steps (2,000 + 800)"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=True),
    metrics=("cond_acc", "fid", "diversity", "recall"),
    question="At how many steps does the shapes SGAN (he-d1x10) pass every gate on val?",
    issue="#26",
)
