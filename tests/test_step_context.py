"""Tests for StepContext.log (core.models.base): the one way a step logs a scalar."""
from __future__ import annotations

import contextlib

import pytest
import torch

from core.models.base import StepContext


def _ctx(check_finite: bool, optimizers=None) -> StepContext:
    return StepContext({}, optimizers or {}, None, 0, None, contextlib.nullcontext, check_finite=check_finite)


def test_log_stores_floats_with_check_finite_and_detached_tensors_without():
    w = torch.tensor(0.1, requires_grad=True)
    ctx = _ctx(True)
    ctx.log("t", w * 3)
    ctx.log("flag", 1.0)
    ctx.log("third", 1 / 3)
    assert ctx.losses == {"t": float(torch.tensor(0.1) * 3), "flag": 1.0, "third": float(torch.tensor(1 / 3))}
    assert all(type(v) is float for v in ctx.losses.values())
    assert ctx.losses["third"] != 1 / 3  # a number is stored as float32, as a tensor would be

    lazy = _ctx(False)
    lazy.log("t", w * 3)
    lazy.log("flag", 1.0)
    assert all(torch.is_tensor(v) and not v.requires_grad for v in lazy.losses.values())
    assert float(lazy.losses["t"]) == ctx.losses["t"] and float(lazy.losses["flag"]) == 1.0


@pytest.mark.parametrize("check_finite", [True, False])
def test_update_logs_the_loss_and_its_parts_through_log(check_finite):
    w = torch.nn.Parameter(torch.tensor(2.0))
    ctx = _ctx(check_finite, {"g": torch.optim.SGD([w], lr=0.1)})
    loss = w * w
    ctx.update("g", loss, part=w.detach() + 1)
    assert list(ctx.losses) == ["loss_g", "part"]
    assert float(ctx.losses["loss_g"]) == 4.0 and float(ctx.losses["part"]) == 3.0
    assert float(w.detach()) == pytest.approx(2.0 - 0.1 * 4.0)  # the update still happened
