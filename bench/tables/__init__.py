"""The papers' ablation tables, one module each, and the health gates they share (PROTOCOL.md rule 6).

The thresholds are the protocol's suggestions, declared here before any gate was measured:

- :data:`FID_GATE`: FID on the val split at most half of uniform noise's on the same features. A model
  that is nearer noise than data has learnt nothing a claim could compare.
- :data:`DIVERSITY_GATE`: within-condition diversity at least half the real data's at the same pool size.
  Below it the model draws nearly one image per condition (collapse), so comparisons of realism or
  conditioning measure the collapse, not the design choice.
- :data:`RECALL_GATE`: recall above 0.05: the generated set covers at least a twentieth of the real
  images' neighbourhoods; 0 means the model covers none of the data.
- :func:`q_gate`: an auxiliary head a claim's mechanism relies on (SGAN's Q) must do better than a head
  that reads nothing: its loss at most 0.9× its chance value, averaged over the last tenth of training.
"""
from __future__ import annotations

from bench.spec import Gate

FID_GATE = Gate("fid", "<=", 0.5, "noise", why="at most half of uniform noise's FID on the same features: "
                "nearer noise than data, a model has learnt nothing to compare")
DIVERSITY_GATE = Gate("diversity", ">=", 0.5, "real", why="at least half the real data's within-condition "
                      "diversity at the same pool size: below it the model has collapsed")
RECALL_GATE = Gate("recall", ">=", 0.05, why="the generated set must cover some of the real data; 0 is total "
                   "collapse")


def q_gate(level: int, chance: float) -> Gate:
    """SGAN's Q head at ``level``: its reconstruction loss of the noise (the logged ``ent<level>``) at most
    0.9× ``chance``, the loss of a Q that reads nothing (the noise's variance)."""
    return Gate(f"log:ent{level}", "<=", 0.9, "chance", chance=chance,
                why=f"Q{level} must read its noise: L_ent{level} below 0.9x the loss of predicting the noise's mean")
