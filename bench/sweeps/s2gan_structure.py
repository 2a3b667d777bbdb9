"""S²-GAN's Structure-GAN trained alone on the shapes val split: the two probes of docs/s2gan.md ("Why the
Structure-GAN collapses").

Both train one row of their own, ``structure-gan``: the Structure-GAN alone (the ``stack-joint`` row's
Structure-G and Structure-D at ``quick``, no Style-GAN, no joint phase, quick's 750 steps), gated on the
structure gates that the table's stack rows declare (``bench/tables/s2gan.py``). Its pipeline returns its
normal maps as its images, so only the structure metrics mean anything for it.

- ``s2gan-structure-d`` (issue #17, session 8) ran as ``scripts/s2gan_structure_probes.sh`` round 2, commit
  a7d7dfa, before the gates existed: the reference against a Structure-D that sees n − (0, 0, 1), at the
  reference's rate and at 1e-3. Its rule: the lowest mean structure FD; the reference stays unless another
  is lower by more than 10%. The definition is kept so it can be rerun.
- ``s2gan-structure-init`` (issue #27): after the diagnosis (the Structure-D starts blind under N(0, 0.02),
  ``scripts/s2gan_structure_diagnosis.py``), He-initialised Structure-Ds with three ways of letting D keep
  ahead of G. Rule written before it ran: eligible when both structure gates pass (mean of seeds 0 and 1);
  then the lowest mean val structure FD. Rounds 2 and 3 (``s2gan-structure-d3``, ``s2gan-structure-budget``) below.
- ``s2gan-style-init`` and ``s2gan-style-balance`` (issue #27): the Style-GAN's style noise (the table's
  ``style-fcn`` row), with the Style-D's initialisation and then ways of holding a sighted Style-D back.
"""
from bench.spec import Row, Unit
from bench.sweep import Candidate, Rule, Sweep
from bench.tables.s2gan import STRUCTURE_FD_GATE, STRUCTURE_SPREAD_GATE

ALONE = {"model.style": False, "model.style_steps": 0, "model.joint_steps": 0, "model.fcn_weight": 0.0}
STRUCTURE_GAN = Row("structure-gan", "the Structure-GAN alone (quick's structure phase)", Unit("s2gan", ALONE),
                    params={"structure": "generated"}, metrics=("normal_maps",),
                    gates=(STRUCTURE_SPREAD_GATE, STRUCTURE_FD_GATE))
METRICS = ("structure_spread", "structure_fd")
HE = {"model.structure_d_init": "kaiming"}
COMMON = dict(paper="s2gan", dataset="shapes", preset="quick", rows=(STRUCTURE_GAN,), seeds=(0, 1), metrics=METRICS)

SWEEPS = (
    Sweep(
        name="s2gan-structure-d",
        **COMMON,
        candidates=(
            Candidate("reference", {"model.structure_d_center": False, "model.structure_d_lr": 2e-4}),
            Candidate("center", {"model.structure_d_center": True, "model.structure_d_lr": 2e-4}),
            Candidate("center-fast", {"model.structure_d_center": True, "model.structure_d_lr": 1e-3}),
        ),
        rule=Rule(gates=False, minimise="structure_fd", keep="reference", margin=0.063),
        question="Does centring the Structure-D's input (or a faster D) stop the Structure-GAN's collapse?",
        issue="#17",
        notes=("Measured then (structure FD, mean of seeds 0 and 1; spread, val 0.062): reference 0.627 (0.608, "
               "0.646), spread 0.006; center 0.824 (0.709, 0.938), 0.013; center-fast 0.649 (0.657, 0.642), "
               "0.003. The reference stayed; every candidate collapsed.",
               "The rule's 10% of the reference's 0.627 is the margin 0.063. The old script scored 1,000 val maps "
               "with evaluation seed 0; the sweep scores through the table's settings, so its numbers differ."),
    ),
    Sweep(
        name="s2gan-structure-init",
        **COMMON,
        candidates=(
            Candidate("he", HE, "He-normal Structure-D, the reference's rates: D learns, G keeps pace"),
            Candidate("he-slow-g", {**HE, "model.structure_g_lr": 2e-5}, "G at a tenth of D's rate"),
            Candidate("he-fast-d", {**HE, "model.structure_g_lr": 1e-4, "model.structure_d_lr": 1e-3},
                      "D at ten times G's rate, both moved"),
            Candidate("he-d3", {**HE, "model.structure_d_steps": 3}, "three D updates per G update"),
        ),
        rule=Rule(gates=True, minimise="structure_fd"),
        question="Which He-initialised Structure-D setting lets the Structure-GAN draw real structures?",
        issue="#27",
    ),
)

# The Style-GAN's style noise (issue #27): the table's `style-fcn` row (the Style-GAN on real normals with the
# FCN constraint, quick), whose renderings of one structure looked alike whatever the style noise. Its
# Style-D is the same no-BN N(0, 0.02) stack as the Structure-D. Rule written before running: eligible when
# every gate of the row passes (FID, diversity at a fixed structure against real images of the same shape
# class, recall; mean of seeds 0 and 1); then the lowest mean val FID.
STYLE_COMMON = dict(paper="s2gan", dataset="shapes", preset="quick", rows=("style-fcn",), seeds=(0, 1),
                    rule=Rule(gates=True, minimise="fid"), issue="#27")
SWEEPS += (
    Sweep(
        name="s2gan-style-init",
        **STYLE_COMMON,
        candidates=(
            Candidate("reference", {}, "the reference's N(0, 0.02) Style-D"),
            Candidate("he", {"model.style_d_init": "kaiming"}, "a He-normal Style-D"),
        ),
        metrics=("fid", "diversity", "recall"),
        question="Does a He-initialised Style-D make the Style-GAN use its style noise?",
    ),
)

# Round 2 of issue #27, after s2gan-structure-init chose nothing (every candidate failed structure_fd <= 0.33;
# he-d3 came nearest, 0.504, and passed the spread gate, 0.038; by eye its maps hold objects on a flat ground, at
# few places and shapes, with some checkerboard). Each candidate keeps he-d3's He-normal D and 3 D updates and
# changes one more thing. Rule written before running: eligible when both structure gates pass (mean of seeds
# 0 and 1); then the lowest mean val structure FD.
D3 = {**HE, "model.structure_d_steps": 3}
SWEEPS += (
    Sweep(
        name="s2gan-structure-d3",
        **COMMON,
        candidates=(
            Candidate("d3-32px", {**D3, "model.structure_size": 32},
                      "the Structure-G at the image side (32²): no 32 → 24 → 32 resampling to blur the 2-px rims"),
            Candidate("d5", {**HE, "model.structure_d_steps": 5}, "five D updates per G update"),
            Candidate("d3-fast-d", {**D3, "model.structure_g_lr": 1e-4, "model.structure_d_lr": 1e-3},
                      "three D updates at ten times G's rate"),
        ),
        rule=Rule(gates=True, minimise="structure_fd"),
        question="With He-normal and three D updates as the base, which one more change lets the Structure-GAN "
                 "pass both structure gates?",
        issue="#27",
    ),
)

# Round 3 of issue #27: the budget. After round 2 (d3-fast-d nearest, structure_fd 0.390), the diagnosis script at
# d3-fast-d's setting and 4x the steps (scripts/s2gan_structure_diagnosis.py --steps 3000 --d-init kaiming
# --d-steps 3 --g-lr 1e-4 --d-lr 1e-3) drew arrows, circles and hearts on a flat ground (tilted share 0.155,
# real 0.156; pooled FD against training maps 0.28 at 750 steps, 0.26 at 3,000). Written before running: eligible
# when both structure gates pass (mean of seeds 0 and 1); then the fewest steps among the eligible (their order
# here), so quick's budget grows no more than it must.
FAST_D3 = {**D3, "model.structure_g_lr": 1e-4, "model.structure_d_lr": 1e-3}
SWEEPS += (
    Sweep(
        name="s2gan-structure-budget",
        **COMMON,
        candidates=(
            Candidate("d3-fast-d-1500", {**FAST_D3, "model.structure_steps": 1500}, "2x quick's structure steps"),
            Candidate("d3-fast-d-3000", {**FAST_D3, "model.structure_steps": 3000}, "4x quick's structure steps"),
        ),
        rule=Rule(gates=True),
        question="How many Structure-GAN steps does the d3-fast-d setting need to pass both structure gates?",
        issue="#27",
    ),
)

# The Style-GAN's style noise, round 2 (issue #27). s2gan-style-init found the reference's N(0, 0.02) Style-D blind
# (renderings of one structure alike: diversity 0.030 against a gate of 0.16) and a He-normal Style-D at the
# reference's rates overpowering G (diversity 0.171 but FID 53.7, coloured static). Each candidate keeps the
# He-normal Style-D and holds it back one way: the reference code's own margin rule (skip D's update while both its
# errors are below 0.3; quick turns it off), or D at a tenth of G's rate. Rule written before running: eligible when
# every gate of the row passes (mean of seeds 0 and 1); then the lowest mean val FID.
HE_STYLE = {"model.style_d_init": "kaiming"}
SWEEPS += (
    Sweep(
        name="s2gan-style-balance",
        **STYLE_COMMON,
        candidates=(
            Candidate("he-margin", {**HE_STYLE, "model.margin_rule": True},
                      "He-normal Style-D held back by the reference's margin rule"),
            Candidate("he-slow-d", {**HE_STYLE, "model.style_d_lr": 2e-5}, "He-normal Style-D at a tenth of G's rate"),
        ),
        metrics=("fid", "diversity", "recall", "log:skip_d_style"),
        question="Does a sighted Style-D held back (margin rule, or a slower rate) make the Style-GAN use its "
                 "style noise without drawing static?",
    ),
)

# Round 3 for the Style-GAN (issue #27). s2gan-style-balance chose nothing (margin rule: FID 54.9, static; a tenth
# of G's rate: FID 61.2, diversity 0.008, pure static). The measurement that explains it
# (scripts/s2gan_style_gradients.py, 4 training batches): the Style-G's update is the sum of the adversarial
# term's gradient and λ·FCN's. With the reference's blind Style-D, at init the adversarial share of the squared
# gradient norm is 0.000 (|g_adv| 0.0019 against |g_fcn| 0.50): the FCN constraint alone trains G, which renders
# each structure the same for every z. With a He-normal Style-D it is 0.995 (|g_adv| 7.4): an untrained D's large,
# random gradient steers G from the first step, and a slower D leaves it random for longer. The candidate keeps the
# He-normal trunk (D sees from the first step) but sets the logit layer to 0, so D's gradient towards G starts at 0
# and grows as D learns. Rule written before running: eligible when every gate of the row passes (mean of seeds 0
# and 1); then the lowest mean val FID.
SWEEPS += (
    Sweep(
        name="s2gan-style-head",
        **STYLE_COMMON,
        candidates=(
            Candidate("he-zero-head", {"model.style_d_init": "kaiming-zero-head"},
                      "He-normal Style-D whose logit layer starts at 0"),
        ),
        metrics=("fid", "diversity", "recall"),
        question="Does a sighted Style-D whose gradient towards G starts at 0 make the Style-GAN use its style noise "
                 "without drawing static?",
    ),
)

# Round 4 for the Structure-GAN (issue #27), after round 3 (s2gan-structure-budget: d3-fast-d passes the spread gate
# but not structure_fd, 0.416 at 2x and 0.355 at 4x the steps, seeds far apart) and the Style-G's gradient
# measurement (an untrained He-normal D's gradient towards G is large and random: docs/s2gan.md). The Structure-G has
# no other loss, so every early step follows D's untrained gradient. Each candidate starts the He-normal
# Structure-D's logit layer at 0 (kaiming-zero-head), at quick's 750 steps: at the reference's rates and one D
# update, and at d3-fast-d's (three D updates at ten times G's rate). Rule written before running: eligible when both
# structure gates pass (mean of seeds 0 and 1); then the lowest mean val structure FD.
ZERO_HEAD = {"model.structure_d_init": "kaiming-zero-head"}
SWEEPS += (
    Sweep(
        name="s2gan-structure-head",
        **COMMON,
        candidates=(
            Candidate("zh", ZERO_HEAD, "He-normal Structure-D with its logit layer at 0, the reference's rates"),
            Candidate("zh-d3-fast-d", {**FAST_D3, **ZERO_HEAD}, "the same with d3-fast-d's three D updates at 10x"),
        ),
        rule=Rule(gates=True, minimise="structure_fd"),
        question="Does a Structure-D whose gradient towards G starts at 0 let the Structure-GAN pass both structure "
                 "gates at quick's steps?",
        issue="#27",
    ),
)

# Round 5 for the Structure-GAN and round 4 for the Style-GAN (issue #27, session 13). What is left in both is a
# variety failure: the Structure-GAN at d3-fast-d draws objects at few places and shapes (structure_fd 0.39 at
# quick's steps; 8x the steps still 0.36), and every Style-G renders one structure alike for every z (diversity
# 0.017-0.030 against 0.16). Each D sees one sample at a time, so nothing in its input tells a batch of alike
# samples from a real batch. A minibatch-std channel before the head (core.nn.MinibatchStd, Karras et al. 2018; not
# the reference's) gives D that signal. The stacked study's sweep stacked-mbstd asks the same of its Ds.
# Rules written before running. Structure: eligible when both structure gates pass (mean of seeds 0 and 1); then
# the lowest mean val structure FD. Style: eligible when every gate of the row passes; then the lowest mean val FID.
MBSTD = {"model.structure_d_mbstd": True}
SWEEPS += (
    Sweep(
        name="s2gan-structure-mbstd",
        **COMMON,
        candidates=(
            Candidate("he-mbstd", {**HE, **MBSTD}, "He-normal Structure-D with a minibatch-std channel, the reference's "
                      "rates and one D update"),
            Candidate("d3-fast-d-mbstd", {**FAST_D3, **MBSTD}, "the same with d3-fast-d's three D updates at 10x"),
        ),
        rule=Rule(gates=True, minimise="structure_fd"),
        question="Does a Structure-D that sees its batch's spread let the Structure-GAN pass both structure gates at "
                 "quick's steps?",
        issue="#27",
    ),
    Sweep(
        name="s2gan-style-mbstd",
        **STYLE_COMMON,
        candidates=(
            Candidate("he-zero-head-mbstd", {"model.style_d_init": "kaiming-zero-head", "model.style_d_mbstd": True},
                      "the zero-head He-normal Style-D of s2gan-style-head with a minibatch-std channel"),
        ),
        metrics=("fid", "diversity", "recall"),
        question="Does a Style-D that sees its batch's spread make the Style-GAN use its style noise?",
    ),
)

# The Style-GAN's style noise, round 5 (issue #27, session 13). Measured: a trained Style-G receives z (a tenth of
# the maps' effect at its first trunk conv) and suppresses it to a fiftieth at the image, under the reference's and
# the zero-head Style-D alike; four times the steps do not change it (diversity 0.017-0.029). Any change of a
# rendering with z can only raise L_fcn, and nothing in the loss rewards it: the failure MSGAN (Mao et al., CVPR
# 2019) names for conditional GANs and cures with a mode-seeking term. Each candidate keeps s2gan-style-head's
# zero-head Style-D (which cured the static) and adds the term at MSGAN's λ_ms = 1 or a tenth of it. Rule written
# before running: eligible when every gate of the row passes (mean of seeds 0 and 1); then the lowest mean val FID.
SWEEPS += (
    Sweep(
        name="s2gan-style-ms",
        **STYLE_COMMON,
        candidates=(
            Candidate("zh-ms1", {"model.style_d_init": "kaiming-zero-head", "model.style_ms_weight": 1.0},
                      "zero-head He-normal Style-D, mode-seeking term λ_ms = 1 (MSGAN's)"),
            Candidate("zh-ms0.1", {"model.style_d_init": "kaiming-zero-head", "model.style_ms_weight": 0.1},
                      "the same at λ_ms = 0.1"),
        ),
        metrics=("fid", "diversity", "recall"),
        question="Does a mode-seeking term make the Style-GAN use its style noise, with a Style-D that does not "
                 "draw static?",
    ),
)

# Round 6 for the Structure-GAN (issue #27, session 13). After rounds 3-5 (d3-fast-d: structure_fd 0.390 at quick's
# steps, 0.36 at 8x; a minibatch-std channel 0.628; weight averaging 0.353): D wins throughout (p(fake) 0.02-0.03 in
# the 4x diagnosis run) and G draws objects at few places and shapes, the signature of a generator short of capacity
# rather than of a blind or overpowered D. quick runs both Structure networks at a quarter of the reference's widths
# (n = 16 against 64: a 3x3 seed of 32 channels). The candidate doubles them (n = 32) at d3-fast-d's setting and
# quick's 750 steps. Rule written before running: eligible when both structure gates pass (mean of seeds 0 and 1);
# then the lowest mean val structure FD.
SWEEPS += (
    Sweep(
        name="s2gan-structure-width",
        **COMMON,
        candidates=(
            Candidate("d3-fast-d-n32", {**FAST_D3, "model.structure_ngf": 32, "model.structure_ndf": 32},
                      "d3-fast-d with the Structure-G and -D at half the reference's widths (n = 32)"),
        ),
        rule=Rule(gates=True, minimise="structure_fd"),
        question="Does a wider Structure-GAN (n = 32) at d3-fast-d's setting pass both structure gates at quick's steps?",
        issue="#27",
    ),
)

# The Style-GAN's style noise, round 6 (issue #27, session 13). s2gan-style-ms (877e2f6) chose nothing, but zh-ms0.1
# passed FID (20.2) and, for the first time, diversity at a fixed structure (0.47 against 0.16; 0.02-0.03 before):
# the mode-seeking term makes the Style-G use z. Recall stays at 0.004: by eye z now changes the ground (grey, dark,
# cream), while most objects are drawn in one magenta hue, a colour collapse across the batch. The candidate adds
# the minibatch-std channel to the Style-D (style_d_mbstd), which sees exactly a batch's spread. Rule written before
# running: eligible when every gate of the row passes (mean of seeds 0 and 1); then the lowest mean val FID.
SWEEPS += (
    Sweep(
        name="s2gan-style-ms-mbstd",
        **STYLE_COMMON,
        candidates=(
            Candidate("zh-ms0.1-mbstd", {"model.style_d_init": "kaiming-zero-head", "model.style_ms_weight": 0.1,
                                         "model.style_d_mbstd": True},
                      "zh-ms0.1 with a minibatch-std channel before the Style-D's head"),
        ),
        metrics=("fid", "diversity", "recall"),
        question="With the mode-seeking term making the Style-G use z, does a Style-D that sees its batch's spread "
                 "cover the real renderings' colours (recall)?",
    ),
)
