"""The second models of autoguidance and classifier guidance: the noise-aware classifiers (their
gradient, the shipped ones' accuracy per noise level), the weak denoisers (the denoiser contract,
the strong model's schedule and labels), the loaders, and the train kinds that make them."""
import json

import pytest
import torch

from diffusion import train as train_cli
from diffusion.core.guiders_models import log_prob_grad
from diffusion.evaluation.classifier_report import noise_accuracy
from diffusion.models.checkpoint import CheckpointError, load_checkpoint
from diffusion.models.classifiers import DigitClassifier, PointClassifier
from diffusion.models.guidance_models import (CLASSIFIER, WEAK, load_classifier, load_role_checkpoint,
                                              load_weak_model, role_dir)
from diffusion.models.inference import count_flops, prepare
from diffusion.models.layers import ConditionedDenoiser
from diffusion.training.presets import kinds, preset
from diffusion.worlds import get_world
from diffusion.worlds.mnist import MNIST
from diffusion.worlds.points import POINTS

WORLDS = [POINTS, MNIST]


@pytest.mark.parametrize("model, x", [(PointClassifier(3, width=32, depth=2), torch.randn(5, 2)),
                                      (DigitClassifier(10, channels=[8, 16, 16], emb_dim=16, hidden=16),
                                       torch.randn(5, 1, 28, 28))])
def test_classifier_gradient_wrt_x_t_flows_also_in_inference_form(model, x):
    t, y = torch.tensor([0, 10, 200, 500, 999]), torch.tensor([0, 1, 2, 1, 0])
    for m in (model, prepare(model)):  # prepare: no parameter gradients, channels_last; input gradients stay
        with torch.inference_mode():  # as inside the sampler
            grad = log_prob_grad(m, x, t, y)
        assert grad.shape == x.shape and torch.isfinite(grad).all() and (grad.flatten(1).abs().sum(1) > 0).all()


def test_digit_classifier_is_cheap():
    flops = count_flops(DigitClassifier(), torch.randn(1, 1, 28, 28), torch.tensor([3]))
    params = sum(p.numel() for p in DigitClassifier().parameters())
    assert flops < 30e6 and 100_000 <= params <= 300_000


@pytest.mark.parametrize("world, n, low_t, low_acc", [(POINTS, 500, [0], 0.85), (MNIST, 20, [0, 100], 0.9)],
                         ids=["points", "mnist"])
def test_shipped_classifier_beats_chance_at_low_noise_and_is_near_chance_at_the_end(world, n, low_t, low_acc):
    # Points: the three curves cross and partly overlap, so even the exact (Bayes) classifier of
    # 5000 points per class gets only 93.6% at t = 0 (the card's table): 0.85 is "clearly learned".
    ck = load_role_checkpoint(world.name, CLASSIFIER)  # strict load
    strong = load_checkpoint(world.checkpoint_dir, world.name).config
    assert (ck.config.schedule, ck.config.timesteps, ck.config.labels) == \
        (strong.schedule, strong.timesteps, strong.labels)
    x0, y = world.held_out(n, seed=3)
    acc = noise_accuracy(load_classifier(world.name), ck.diffusion, x0, y, [*low_t, ck.config.timesteps - 1])
    chance = 1 / len(world.labels)
    assert all(acc[t] > low_acc for t in low_t), acc
    assert abs(acc[ck.config.timesteps - 1] - chance) < 0.12, acc


@pytest.mark.parametrize("world", WORLDS, ids=lambda w: w.name)
def test_shipped_weak_model_keeps_the_denoiser_contract_of_the_strong_one(world):
    weak = load_weak_model(world.name)
    assert load_weak_model(world.name) is weak and not weak.training  # cached, eval mode
    weak_ck = load_role_checkpoint(world.name, WEAK)
    cfg = weak_ck.config
    strong = load_checkpoint(world.checkpoint_dir, world.name)
    # the world's architecture (the strong model may be two of them joined, one per guidance branch)
    assert (cfg.architecture, cfg.schedule, cfg.timesteps, cfg.labels) == \
        (world.architecture, strong.config.schedule, strong.config.timesteps, strong.config.labels)
    assert isinstance(weak, ConditionedDenoiser) and weak.num_classes == len(world.labels)
    # weaker as the paper builds it: smaller, or the same network trained for fewer steps
    smaller = sum(p.numel() for p in weak.parameters()) < sum(p.numel() for p in strong.model.parameters())
    assert smaller or weak_ck.history["step"] < strong.history.get("step", 0), (weak_ck.history.get("step"),
                                                                                strong.history.get("step"))
    x = torch.randn(4, *world.sample_shape)
    t, y = torch.tensor([0, 5, 500, 999]), torch.tensor([0, 1, len(world.labels), 2])  # the null label too
    with torch.inference_mode():
        eps = weak(x, t, y)
    assert eps.shape == x.shape and torch.isfinite(eps).all()


def test_shipped_folders_hold_no_train_state():
    for world in WORLDS:
        for role in (WEAK, CLASSIFIER):
            names = {p.name for p in role_dir(world.name, role).iterdir()}
            assert {"config.json", "model.safetensors", "README.md", "history.json", "diffusion.json"} <= names
            assert not any(n.startswith("train_state") for n in names), names


def test_loaders_raise_checkpoint_error_for_a_world_without_them():
    for load in (load_weak_model, load_classifier):
        with pytest.raises(CheckpointError, match="no shipped .* model.*diffusion.train nowhere-"):
            load("nowhere")


def test_train_kinds_appear_in_help(capsys):
    with pytest.raises(SystemExit):
        train_cli.main(["--help"])
    out = capsys.readouterr().out
    for kind in ("points-weak", "mnist-weak", "points-classifier", "mnist-classifier"):
        assert kind in out and kind in kinds()


def test_weak_preset_keeps_the_strong_models_schedule_labels_and_dropout():
    for world in WORLDS:
        weak, strong = preset(f"{world.name}-weak"), preset(world.name)
        for key in ("schedule", "timesteps", "labels", "p_uncond", "min_snr_gamma"):
            assert weak.get(key) == strong.get(key), key


TINY = {"points-weak": '{"width": 16}', "mnist-weak": '{"channels": [4, 8, 8], "emb_dim": 8}',
        "points-classifier": '{"width": 16, "depth": 1}',
        "mnist-classifier": '{"channels": [4, 8, 8], "emb_dim": 8, "hidden": 8}'}


@pytest.mark.parametrize("kind", list(TINY))
def test_tiny_training_run_of_each_new_kind_saves_loads_and_resumes(tmp_path, kind):
    out = tmp_path / "ck"
    args = [kind, "--out", str(out), "--batch-size", "8", "--threads", "1", "--model", TINY[kind]]
    assert train_cli.main(args + ["--steps", "2"]) == 0
    assert json.loads((out / "train_state.json").read_text())["step"] == 2
    assert train_cli.main(args + ["--steps", "4"]) == 0  # resumes at 2
    history = json.loads((out / "history.json").read_text())
    assert history["step"] == 4 and [s for s, _ in history["val_loss"]] == [2, 4]
    name, role = kind.rsplit("-", 1)
    ck = load_role_checkpoint(get_world(name).name, role, out)
    assert ck.history["train_config"]["kind"] == kind and "README.md" in {p.name for p in out.iterdir()}


def test_evaluate_prints_classifier_accuracy_per_noise_level(capsys):
    from diffusion import evaluate
    assert evaluate.main(["points-classifier", "--n-per-class", "50"]) == 0
    out = capsys.readouterr().out
    assert "| t | 0 | 100 | 250 | 500 | 750 | 900 | 999 |" in out and "| accuracy |" in out


def test_evaluate_weak_compares_candidates_with_cfg_and_writes_their_cards(tmp_path, capsys):
    import shutil

    from diffusion import evaluate
    folder = tmp_path / "cand"
    shutil.copytree(role_dir(POINTS.name, WEAK), folder)
    rows = tmp_path / "rows.json"
    args = ["points-weak", "--candidates", str(folder), "--guidance", "1.5", "--cfg-guidance", "1", "2",
            "--n-per-class", "30", "--steps", "10", "--sampler", "ddim", "--json", str(rows)]
    assert evaluate.main(args + ["--update-card"]) == 0
    out = capsys.readouterr().out
    assert "| autoguidance | " in out and "| cfg |  | 2 |" in out and "Chosen: " in out
    assert "How this weak model was chosen" in (folder / "README.md").read_text()
    assert len(json.loads(rows.read_text())) == 3
    assert evaluate.main(args + ["--reuse", str(rows)]) == 0  # nothing sampled again: the same table
    assert capsys.readouterr().out.split("| method |")[1] == out.split("| method |")[1]
