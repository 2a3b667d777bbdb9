"""Inference exports (core.checkpoint export): only the generating sub-networks, optionally float16."""
from __future__ import annotations

import pytest
import torch

from core.checkpoint import MODEL_FILE, exported_modules, main
from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import train

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A stacked dense model (its discriminators are most of nothing here, but the layout is the shipped one)."""
    tmp = tmp_path_factory.mktemp("export")
    return train(build_config("stacked", "smoke", {"model.layer": "dense", "model.mode": "stacked",
                                                   "model.stage1_steps": 3, "model.stage2_steps": 3}),
                 tmp / "run", progress=False)


def test_an_export_keeps_only_the_generators_and_generates_as_the_full_checkpoint(run, tmp_path):
    full = Pipeline.from_checkpoint(run)
    assert main(["export", str(run), str(tmp_path / "g"), "--modules", "netG1,netG2"]) == 0
    assert main(["export", str(run), str(tmp_path / "h"), "--modules", "netG1,netG2", "--half"]) == 0
    g, h = Pipeline.from_checkpoint(tmp_path / "g"), Pipeline.from_checkpoint(tmp_path / "h")
    assert exported_modules(tmp_path / "h") == ["netG1", "netG2"] and exported_modules(run / "checkpoints/final") is None
    want = full.generate(seeds=range(6))
    for k in ("stage1", "image"):
        assert torch.equal(g.generate(seeds=range(6))[k], want[k])  # float32: the same images, bit for bit
        assert (h.generate(seeds=range(6))[k] - want[k]).abs().max() < 2e-2  # float16 weights: within rounding
    size = {d: (tmp_path / d / MODEL_FILE).stat().st_size for d in ("g", "h")}
    assert size["h"] < 0.6 * size["g"] < 0.6 * (run / "checkpoints/final" / MODEL_FILE).stat().st_size
    # the discriminators were left out: the export's model has them only as freshly built networks
    assert not torch.equal(g.model.netD2.state_dict()[next(iter(g.model.netD2.state_dict()))],
                           full.model.netD2.state_dict()[next(iter(full.model.netD2.state_dict()))])


def test_only_a_pipeline_loads_a_whole_export_and_a_bad_module_is_named(run, tmp_path, capsys):
    from core.checkpoint import load_weights

    assert main(["export", str(run), str(tmp_path / "g"), "--modules", "netG1"]) == 0
    model = Pipeline.from_checkpoint(run).model
    with pytest.raises(ValueError, match="inference export"):
        load_weights(tmp_path / "g", model)  # as a resume would: the discriminators are not there
    # a kept sub-network can still start another run (init_from copies only what it names)
    again = train(build_config("stacked", "smoke", {"model.layer": "dense", "model.mode": "stacked",
                                                    "model.stage1_steps": 0, "model.stage2_steps": 1,
                                                    "init_from": str(tmp_path / "g"), "init_modules": ["netG1"]}),
                  tmp_path / "again", progress=False)
    copied = Pipeline.from_checkpoint(again).model.netG1.state_dict()  # frozen in stage 2: as copied
    assert all(torch.equal(v, model.netG1.state_dict()[k]) for k, v in copied.items())
    assert main(["export", str(run), str(tmp_path / "x"), "--modules", "netG9"]) == 2
    err = capsys.readouterr().err
    assert "netG9" in err and "netD1" in err  # what it has


def test_git_sha_is_dirty_for_code_changes_but_not_for_what_runs_write(tmp_path):
    """A run appending to a committed results/ file must not mark its own records dirty; a code change must."""
    import subprocess

    from core.checkpoint import git_sha

    def git(*a):
        subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "runs.csv").write_text("a\n")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", ".")
    git("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "c")
    clean = git_sha(tmp_path)
    assert len(clean) == 40 and not clean.endswith("-dirty")
    (tmp_path / "results" / "runs.csv").write_text("a\nb\n")
    assert git_sha(tmp_path) == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert git_sha(tmp_path) == clean + "-dirty"
