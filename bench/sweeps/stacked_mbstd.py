"""Issue #27: the stacked study's conv and deep-conv single GANs pass FID and diversity but miss recall ≥ 0.05,
and the dense one misses both at quick's steps. The measured cause (docs/stacked.md, "The budget, and what the
low recall is"): partial mode collapse. The conv GAN draws one or two of the four grounds in a few colours that
hop as it trains, deep conv drops colours, dense draws few shapes; more steps are a slow lever (conv's recall
0.020 → 0.052 over 4× the steps). Each D sees one image at a time, real and fake in separate calls, so nothing
in its input tells a batch of few colours from a real batch. A minibatch-std feature before the head
(``core.nn.MinibatchStd``, Karras et al. 2018; not in the paper) gives it exactly that signal.

This sweep trains the three single GANs at quick (He-normal Ds, 600 + 600 steps), with and without it.

Rule written before running: every candidate is eligible (the health gates are reported beside, in
``health.csv``); the highest mean val recall over the three rows and seeds 0 and 1 wins; quick's ``kaiming``
(no minibatch std) stays unless ``kaiming-mbstd`` beats its mean recall by more than 0.02 and its mean val FID
is not worse by more than 1.0."""
from bench.sweep import Candidate, Rule, Sweep

SWEEP = Sweep(
    name="stacked-mbstd",
    paper="stacked",
    dataset="shapes",
    preset="quick",
    rows=("single-dense", "single-deepconv", "single-conv"),
    candidates=(
        Candidate("kaiming", {"model.d_mbstd": False}, "quick's Ds (He-normal), as the paper: no batch feature"),
        Candidate("kaiming-mbstd", {"model.d_mbstd": True}, "the same Ds with a minibatch-std feature before the head"),
    ),
    seeds=(0, 1),
    rule=Rule(gates=False, maximise="recall", keep="kaiming", margin=0.02, guards=(("fid", 1.0),)),
    metrics=("fid", "recall", "diversity", "log:d_real", "log:d_fake"),
    question="Does a minibatch-std feature in D cure the stacked single GANs' dropped colours and grounds (recall)?",
    issue="#27",
)
