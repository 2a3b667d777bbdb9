"""Issue #26 after the C1 pilot: the SGAN row failed its recall gate, and G1's fc3 cover none of E's
(`scripts/sgan_q_probes.py fc3spread`: fc3 recall 0 at C1, 0.10 before #26, where D1 learned at 1e-3). Does D1 at
1e-3 again (its Q head stays at 1e-2; level 0 keeps C1's He trunk, D0 at 1e-4 and Q0 at 1e-2, what made L_ent
act) make the row healthy? Written before the candidate ran. One candidate: the incumbent C1 is known to fail
(results/sgan/health.csv), so the rule is pass/fail."""
from bench.sweep import Candidate, Rule, Sweep

SWEEP = Sweep(
    name="sgan-mnist5k-d1",
    paper="sgan",
    dataset="mnist5k",
    preset="quick",
    rows=("sgan",),
    candidates=(Candidate("c1-d1x10", {"model.d1_lr_scale": 10.0},
                          "C1 with D1's trunk and adversarial head at 1e-3, as before #26"),),
    seeds=(0, 1),
    rule=Rule(gates=True),
    metrics=("cond_acc", "fid", "diversity", "recall"),
    question="With D1 back at 1e-3, does SGAN at C1 pass every gate on val (recall above all)?",
    issue="#26",
)
