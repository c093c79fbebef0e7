"""Growing a trained U-Net (`extra_blocks`, `--init-from`): the grown network starts as the same function
and the run goes on from the smaller run's step, weights and optimizer moments."""
import json

import pytest
import torch

from diffusion import train as train_cli
from diffusion.models.checkpoint import load_checkpoint
from diffusion.models.unet import UNet

TINY = {"channels": [8, 16, 32], "emb_dim": 32, "dropout": 0.0}


def run(tmp_path, name, steps, model, *extra):
    return train_cli.main(["mnist", "--out", str(tmp_path / name), "--steps", str(steps), "--batch-size", "8",
                           "--threads", "1", "--model", json.dumps(model), *extra])


def test_extra_blocks_start_as_the_identity():
    torch.manual_seed(0)
    small = UNet(**TINY).eval()
    with torch.no_grad():  # a trained-looking small net: nonzero output layer
        small.out[-1].weight.normal_(0, 0.1)
    big = UNet(**TINY, extra_blocks=[1, 1, 2]).eval()
    big.load_state_dict({**big.state_dict(), **small.state_dict()}, strict=True)
    x, t, y = torch.randn(3, 1, 28, 28), torch.tensor([5, 400, 990]), torch.tensor([2, 10, 7])
    with torch.no_grad():
        assert small(x, t, y).abs().max() > 0
        assert torch.allclose(big(x, t, y), small(x, t, y), atol=1e-6)
    assert len(big.emb_layers()) == len(small.emb_layers()) + 2 * 1 + 2 * 1 + 2


def test_a_grown_run_goes_on_from_the_smaller_runs_step_weights_and_history(tmp_path):
    assert run(tmp_path, "small", 3, TINY) == 0
    grown = {**TINY, "extra_blocks": [0, 1, 1]}
    assert run(tmp_path, "big", 5, grown, "--init-from", str(tmp_path / "small")) == 0
    small, big = load_checkpoint(tmp_path / "small", "mnist"), load_checkpoint(tmp_path / "big", "mnist")
    runs = big.history["runs"]
    assert [(r["from_step"], r["to_step"]) for r in runs] == [(0, 3), (3, 5)]
    assert "--init-from" in runs[1]["command"] and big.history["init_from"] == str(tmp_path / "small")
    assert json.loads((tmp_path / "big" / "config.json").read_text())["extra_blocks"] == [0, 1, 1]
    # two more steps moved the shared weights, but from the smaller run's, not from a fresh init
    w_small, w_big = small.model.state_dict(), big.model.state_dict()
    for name, w in w_small.items():
        assert (w_big[name] - w).abs().max() < 0.05, name
    # a train state in --out wins over --init-from: the run resumes, it does not restart from the small run
    assert run(tmp_path, "big", 6, grown, "--init-from", str(tmp_path / "small")) == 0
    assert [r["from_step"] for r in load_checkpoint(tmp_path / "big", "mnist").history["runs"]] == [0, 3, 5]


def test_init_from_a_model_that_does_not_fit_names_the_tensor(tmp_path):
    assert run(tmp_path, "small", 1, TINY) == 0
    with pytest.raises(ValueError, match=r"init-from=.*small.*has shape"):
        run(tmp_path, "wide", 2, {**TINY, "channels": [8, 16, 48]}, "--init-from", str(tmp_path / "small"))
    with pytest.raises(ValueError, match=r"init-from=.*nothing.*model.safetensors is missing"):
        run(tmp_path, "x", 2, TINY, "--init-from", str(tmp_path / "nothing"))


def test_the_grown_optimizer_keeps_the_smaller_runs_moments_by_name(tmp_path):
    from safetensors.torch import load_file

    from diffusion.training.grow import init_from
    from diffusion.training.presets import preset
    from diffusion.training.tasks import make_task
    from diffusion.training.trainer import TrainConfig, Trainer
    assert run(tmp_path, "small", 2, TINY) == 0
    config = preset("mnist")
    config.update(steps=4, batch_size=8, threads=1, model={**TINY, "extra_blocks": [1, 1, 1]})
    big = TrainConfig(kind="mnist", out=str(tmp_path / "big"), **config)
    trainer = Trainer(make_task(big), big)
    init_from(trainer, tmp_path / "small")
    saved = load_file(tmp_path / "small" / "train_state.safetensors")
    small_names = [n for n, _ in UNet(**TINY).named_parameters()]
    params = dict(trainer.model.named_parameters())
    for i, name in enumerate(small_names):
        assert torch.equal(trainer.opt.state[params[name]]["exp_avg"], saved[f"opt.{i}.exp_avg"]), name
    new = [p for n, p in params.items() if n not in small_names]
    assert new and all(p not in trainer.opt.state for p in new)
