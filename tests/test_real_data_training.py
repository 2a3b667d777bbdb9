"""Every real-data loader feeds the training loop (issue #12): a smoke run on each loader's fixture,
written here in the published format, with a model of a condition kind the dataset provides."""
from __future__ import annotations

import json
import shutil

import pytest

from core.pipeline import Pipeline
from core.resolve import build_config
from core.train import main, train

import test_conditions  # noqa: F401  registers the toy label, unconditional and structure models
from data import fixtures as fx
from data.test_loaders import nyu_fixture


def _smoke(model, dataset, root, out, **overrides):
    cfg = build_config(model, "smoke", overrides, dataset=dataset, dataset_root=str(root))
    run = train(cfg, out, progress=False)
    assert (run / "checkpoints" / "final" / "model.safetensors").is_file()
    return run


@pytest.mark.parametrize("dataset", ["cub", "oxford102"])
@pytest.mark.parametrize("captions", [True, False])
def test_stackgan_release_layouts_train(tmp_path, dataset, captions):
    """With text_c10/ the captions are encoded; without it the release's char-CNN-RNN embeddings are the
    condition (the paper's exact one), and the stored config says so."""
    root = tmp_path / "data"
    if dataset == "cub":
        fx.write_cub(root, dim=32, captions=captions)
    else:
        fx.write_oxford(root, dim=32)
        if not captions:
            shutil.rmtree(root / "text_c10")
    run = _smoke("stackgan", dataset, root, tmp_path / "run", batch_size=2)
    cfg = json.loads((run / "config.json").read_text())
    pipe = Pipeline.from_checkpoint(run)
    if captions:
        assert cfg["text_encoder"] == "hash" and pipe.info.embed_dim == 64
        assert pipe.generate(["bird 1 caption 0"], seeds=[0])["image"].shape == (1, 3, 16, 16)
    else:
        assert cfg["text_encoder"] == "char-cnn-rnn" and pipe.info.embed_dim == 32
        with pytest.raises(ValueError, match="cannot encode new captions; pass embeddings="):
            pipe.generate(["a bird"], seeds=[0])


def test_paper_preset_text_encoder_auto_picks_the_release_embeddings(tmp_path):
    fx.write_cub(tmp_path / "data", dim=32, captions=True)
    run = _smoke("stackgan", "cub", tmp_path / "data", tmp_path / "run", batch_size=2, text_encoder="auto")
    assert json.loads((run / "config.json").read_text())["text_encoder"] == "char-cnn-rnn"


def test_mnist_idx_trains_text_and_label_models(tmp_path):
    x, y = fx.digits(12, seed=1)
    fx.write_mnist(tmp_path, "train", x, y)
    _smoke("gan-int-cls", "mnist", tmp_path, tmp_path / "text")  # class-template captions
    donor = _smoke("toy-uncond", "mnist", tmp_path, tmp_path / "none")
    run = _smoke("toy-label", "mnist", tmp_path, tmp_path / "label", frozen=[f"netE={donor}:netD"])
    assert Pipeline.from_checkpoint(run).generate(labels=[7], seeds=[0])["image"].shape == (1, 1, 16, 16)


def test_cifar10_trains_an_unconditional_model(tmp_path):
    fx.write_cifar(tmp_path, per_batch=4)
    run = _smoke("toy-uncond", "cifar10", tmp_path, tmp_path / "run")
    assert Pipeline.from_checkpoint(run).generate(n=2)["image"].shape == (2, 3, 16, 16)


def test_svhn_trains_a_text_model(tmp_path):
    fx.write_svhn(tmp_path, "train", [10, 1, 2, 3, 4, 5, 6, 7])
    run = _smoke("gan-int-cls", "svhn", tmp_path, tmp_path / "run")
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["dataset"] == "svhn" and cfg["text_encoder"] == "hash"
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in log if "loss_g" in r]
    assert steps and steps == list(range(1, len(steps) + 1)) and log[-1]["event"] == "done"  # it trained to the end
    pipe = Pipeline.from_checkpoint(run)
    assert pipe.conditions == ("text",)
    assert pipe.info.channels == 3 and pipe.info.num_classes == 8  # SVHN's label 10 read as digit 0: digits 0..7
    image = pipe.generate(["the digit 3 on a house number sign"], seeds=[0])["image"]
    assert image.shape == (1, 3, 16, 16) and image.isfinite().all()
    assert pipe.generate(["the digit 3 on a house number sign"], seeds=[0])["image"].equal(image)


def test_nyuv2_trains_a_structure_model(tmp_path):
    nyu_fixture(tmp_path)
    run = _smoke("toy-structure", "nyuv2", tmp_path, tmp_path / "run")
    assert Pipeline.from_checkpoint(run).conditions == ("structure",)


def test_cli_dataset_errors_are_one_line_not_a_traceback(tmp_path, capsys):
    """A DatasetError (here: a CUB root that does not exist) is printed as one error, exit code 2."""
    code = main(["--model", "stackgan", "--preset", "smoke", "--dataset", "cub", "--root", str(tmp_path / "nope"),
                 "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: cub:") and "Traceback" not in err
