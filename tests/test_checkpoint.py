"""Checkpoint folders: round trip, strict loading, clear errors, atomic saves."""
import json
import os

import pytest
import torch

from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import CheckpointError, DiffusionConfig, atomic_dir, load_checkpoint, save_checkpoint
from diffusion.models.mlp import PointDenoiser
from diffusion.models.unet import UNet


def save(tmp_path, model, world, labels, arch, name="ck"):
    torch.manual_seed(0)
    config = DiffusionConfig(world, labels, arch, "cosine", 50, 0.2)
    return save_checkpoint(tmp_path / name, model, config, {"loss": [[1, 0.5]]}, "# card\n")


def test_points_round_trip_gives_bit_identical_samples(tmp_path):
    torch.manual_seed(0)
    model = PointDenoiser(num_classes=3, width=32, depth=2).eval()
    folder = save(tmp_path, model, "points", ["spiral", "s_curve", "moons"], "PointDenoiser")
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md", "config.json", "diffusion.json", "history.json", "model.safetensors"]
    loaded = GuidedSampler.load("points", str(folder))
    assert loaded.labels == ["spiral", "s_curve", "moons", "random"]
    from diffusion.models.checkpoint import Checkpoint
    original = GuidedSampler(Checkpoint(model, loaded.checkpoint.config))
    a = original.sample("moons", guidance=3, steps=10, n=20, seed=4)
    b = loaded.sample("moons", guidance=3, steps=10, n=20, seed=4)
    assert torch.equal(a.xs, b.xs)


def test_unet_round_trip(tmp_path):
    model = UNet(num_classes=10, channels=[8, 16, 16], emb_dim=16).eval()
    folder = save(tmp_path, model, "mnist", [str(d) for d in range(10)], "UNet")
    ck = load_checkpoint(folder, "mnist")
    for k, v in model.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k])
    assert json.loads((folder / "config.json").read_text())["channels"] == [8, 16, 16]


def test_missing_checkpoint_says_where_and_how(tmp_path):
    with pytest.raises(CheckpointError, match=r"no checkpoint at .*nowhere.*python -m diffusion.train points"):
        load_checkpoint(tmp_path / "nowhere", "points")


def test_malformed_checkpoints_are_refused(tmp_path):
    folder = save(tmp_path, PointDenoiser(num_classes=3, width=32, depth=2), "points",
                  ["spiral", "s_curve", "moons"], "PointDenoiser")
    (folder / "diffusion.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)
    (folder / "diffusion.json").write_text(json.dumps({"world": "points"}))
    with pytest.raises(CheckpointError, match="malformed"):
        load_checkpoint(folder)
    config = DiffusionConfig("points", ["spiral", "s_curve", "moons"], "PointDenoiser", "cosine", 50)
    (folder / "diffusion.json").write_text(json.dumps(config.__dict__))
    cfg = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**cfg, "width": 64}))  # shapes no longer fit
    with pytest.raises(CheckpointError, match="does not fit PointDenoiser"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps(cfg))
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="model.safetensors is missing"):
        load_checkpoint(folder)


def test_label_count_must_match_the_network(tmp_path):
    folder = save(tmp_path, PointDenoiser(num_classes=2, width=32, depth=2), "points",
                  ["spiral", "s_curve", "moons"], "PointDenoiser")
    with pytest.raises(CheckpointError, match="2 classes but diffusion.json names 3"):
        load_checkpoint(folder)


def test_atomic_dir_keeps_the_old_checkpoint_when_a_write_fails(tmp_path):
    out = tmp_path / "ck"
    atomic_dir(out, lambda d: (d / "a.txt").write_text("old"))

    def broken(d):
        (d / "a.txt").write_text("half")
        raise KeyboardInterrupt  # the run is killed mid-save

    with pytest.raises(KeyboardInterrupt):
        atomic_dir(out, broken)
    assert (out / "a.txt").read_text() == "old"
    os.rename(out, tmp_path / "ck.old")  # killed between the two renames
    from diffusion.models.checkpoint import resolve
    assert resolve(out) == tmp_path / "ck.old"
