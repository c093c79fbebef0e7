"""The training loop: seeded, resumable to the same weights, atomic, and its LR schedule."""
import torch

from diffusion.models.checkpoint import load_checkpoint
from diffusion.training.tasks import DiffusionTask as PointsTask
from diffusion.training.trainer import TrainConfig, Trainer, lr_factor


def config(tmp_path, steps=6, **kw):
    return TrainConfig(kind="points", out=str(tmp_path / "ck"), steps=steps, batch_size=64, lr=1e-3,
                       warmup=2, schedule="linear", timesteps=100, labels=["spiral", "moons"],
                       model=dict(width=32, depth=2, fourier=2), eval_every=3, save_every=3,
                       threads=1, **kw)


def test_lr_warmup_then_cosine():
    assert lr_factor(0, 10, 100) == 0.1 and lr_factor(9, 10, 100) == 1.0
    assert abs(lr_factor(100, 10, 100) - 0.1) < 1e-9
    assert lr_factor(40, 10, 100) > lr_factor(60, 10, 100)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    c = config(tmp_path)
    whole = Trainer(PointsTask(c), c)
    whole.run(progress=False)

    c2 = config(tmp_path / "b")
    first = Trainer(PointsTask(c2), c2)
    first.run(progress=False, should_stop=lambda: first.step >= 3)  # stopped half way, saved
    assert first.step == 3
    second = Trainer(PointsTask(c2), c2)
    assert second.resume(c2.out) and second.step == 3
    second.run(progress=False)
    for a, b in zip(whole.ema.state_dict().values(), second.ema.state_dict().values()):
        assert torch.equal(a, b)
    assert len(second.history["val_loss"]) == len(whole.history["val_loss"]) == 2


def test_a_model_trained_over_two_runs_names_both_in_its_card(tmp_path):
    c1 = config(tmp_path, command="python -m diffusion.train points --steps 6")
    first = Trainer(PointsTask(c1), c1)
    first.run(progress=False, should_stop=lambda: first.step >= 3)
    c2 = config(tmp_path, steps=8, seed=0, command="python -m diffusion.train points --steps 8")
    second = Trainer(PointsTask(c2), c2)
    assert second.resume(c2.out)
    second.run(progress=False)
    runs = load_checkpoint(c2.out, "points").history["runs"]
    assert [(r["from_step"], r["to_step"]) for r in runs] == [(0, 3), (3, 8)]
    card = (tmp_path / "ck" / "README.md").read_text()
    assert "1. `python -m diffusion.train points --steps 6`, seed 0: steps 0-3" in card
    assert "2. `python -m diffusion.train points --steps 8`, seed 0: steps 3-8" in card
    alone = Trainer(PointsTask(config(tmp_path / "c", steps=3)), config(tmp_path / "c", steps=3))
    alone.run(progress=False)
    assert "| runs |" not in (tmp_path / "c" / "ck" / "README.md").read_text()


def test_saved_checkpoint_is_the_ema_model_with_history(tmp_path):
    c = config(tmp_path, steps=3)
    t = Trainer(PointsTask(c), c)
    t.run(progress=False)
    ck = load_checkpoint(c.out, "points")
    assert ck.config.labels == ["spiral", "moons"] and ck.config.timesteps == 100
    assert ck.history["step"] == 3 and ck.history["train_config"]["lr"] == 1e-3
    for k, v in t.ema.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k])
    assert "train_state.safetensors" in {p.name for p in ck.path.iterdir()}


def test_loss_falls_on_a_tiny_problem(tmp_path):
    c = config(tmp_path, steps=150)
    c.out = ""
    t = Trainer(PointsTask(c), c)
    first = t.validate()
    t.run(progress=False)
    assert t.validate() < 0.8 * first


def test_evaluations_come_every_eval_every_steps_at_the_end_and_when_eval_due_says_so(tmp_path):
    c = config(tmp_path, steps=7)
    c.out = ""
    t = Trainer(PointsTask(c), c)
    seen = []
    t.run(progress=False, on_eval=lambda tr: seen.append(tr.step), eval_due=lambda: t.step in (1, 5))
    assert seen == [1, 3, 5, 6, 7]
    assert [s for s, _ in t.history["val_loss"]] == seen
