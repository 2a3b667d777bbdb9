"""Issue #26 on shapes, after sgan-shapes-budget (he-d1x10 at 1.5x and 2x quick's steps: every gate passes but
recall, 0.007 and 0.017 against 0.05) and its probes: at 2x, G0 fed E(x) of real items covers 0.006 / 0.051 of val,
where the same G0/D0 conditioned on the label covers 0.199 at the same steps. The stack's images spread enough
within a batch (diversity passes) but land near few real items: whole colours and grounds are missing, the partial
mode collapse the stacked study shows too (docs/stacked.md). D0 sees one image at a time, real and fake in
separate calls. A minibatch-std channel in D0's trunk (core.nn.MinibatchStd, Karras et al. 2018; not the
reference's) lets it tell a batch of few modes from a real one.

Written before any candidate ran. Rule: eligible when every gate of the row passes (mean of seeds 0 and 1); then
the fewest steps (the candidates' order), so the budget grows no more than it must."""
from bench.sweep import Candidate, Rule, Sweep
from bench.sweeps.sgan_shapes_budget import HE_D1X10

MBSTD = {**HE_D1X10, "model.d0_mbstd": True}

SWEEP = Sweep(
    name="sgan-shapes-mbstd",
    paper="sgan",
    dataset="shapes",
    preset="quick",
    rows=("sgan",),
    candidates=(
        Candidate("he-d1x10-mbstd", MBSTD, "he-d1x10 with a minibatch-std channel in D0, quick's steps"),
        Candidate("he-d1x10-mbstd-2x", {**MBSTD, "model.independent_steps": 2000, "model.joint_steps": 800},
                  "the same at 2x quick's steps (2,000 + 800)"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=True),
    metrics=("cond_acc", "fid", "diversity", "recall"),
    question="Does a D0 that sees its batch's spread let the shapes SGAN cover val (every gate)?",
    issue="#26",
)
