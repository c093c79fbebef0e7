"""A third world, made up here and registered by this test alone: two rings of points and a small
MLP. It trains, samples through the Python API and streams through the app's handlers without any
other module knowing its name."""
import math

import numpy as np
import pytest
import torch

from diffusion.app.engine import Engine
from diffusion.app.handlers import SamplingHandlers
from diffusion.guided_sampler import GuidedSampler
from diffusion.training.tasks import DiffusionTask
from diffusion.training.trainer import TrainConfig, Trainer
from diffusion.worlds import Sizes, World, get_world, register, unregister

RADII = {"inner": 0.3, "outer": 0.8}


class Rings:
    """Points on two circles: the class is the ring."""

    def batch(self, step, gen, batch_size):
        y = torch.randint(0, 2, (batch_size,), generator=gen)
        angle = torch.rand(batch_size, generator=gen) * 2 * math.pi
        r = torch.tensor(list(RADII.values()))[y]
        return torch.stack([r * angle.cos(), r * angle.sin()], 1), y

    def validation_batch(self):
        return self.batch(0, torch.Generator().manual_seed(1), 512)


class RingWorld(World):
    def training_data(self, labels, seed, validation=None):
        return Rings()

    def measure(self, label, samples):
        radius = np.linalg.norm(samples, axis=1)
        return {"ring_error": float(np.abs(radius - RADII[label]).mean()) if label in RADII else 0.0,
                "spread": float(radius.std())}


@pytest.fixture(scope="module")
def rings(tmp_path_factory):
    folder = tmp_path_factory.mktemp("rings")
    world = register(RingWorld(
        name="rings", title="Rings", noun="ring points", labels=tuple(RADII), sample_shape=(2,),
        architecture="PointDenoiser", sizes=Sizes(max_n=2000, default_n=500, compare_n=300),
        default_label="outer", metric_names=("ring_error", "spread"), checkpoint=str(folder)))
    config = TrainConfig(kind="rings", out=str(folder), steps=1500, batch_size=256, lr=3e-3, warmup=50,
                         ema_decay=0.99, schedule="linear", model=dict(width=64, depth=2, fourier=2),
                         eval_every=500, save_every=1500, threads=2)
    trainer = Trainer(DiffusionTask(config), config)
    trainer.run(progress=False)
    yield world
    unregister("rings")


def ring_error(x: np.ndarray, label: str) -> float:
    return float(np.abs(np.linalg.norm(x, axis=1) - RADII[label]).mean())


def test_the_third_world_samples_through_the_python_api(rings):
    assert get_world("rings") is rings
    s = GuidedSampler.load("rings")
    inner = s.to_data(s.sample("inner", 3.0, 50, "ddpm", 0.0, 400, 0).samples)
    outer = s.to_data(s.sample("outer", 3.0, 50, "ddpm", 0.0, 400, 0).samples)
    assert inner.shape == (400, 2) and inner.dtype == np.float32
    # each label's samples lie on its own ring, not on the other one
    assert ring_error(inner, "inner") < 0.1 < ring_error(inner, "outer")
    assert ring_error(outer, "outer") < 0.1 < ring_error(outer, "inner")
    with pytest.raises(ValueError, match="label='middle' is not allowed; allowed: inner, outer, random"):
        s.sample("middle", 1.0, 10, "ddpm", 0.0, 10, 0)
    with pytest.raises(ValueError, match="n=2001 is not allowed; allowed: an integer in 1..2000"):
        s.sample("inner", 1.0, 10, "ddpm", 0.0, 2001, 0)


def test_the_third_world_streams_through_the_app_handlers(rings):
    h = SamplingHandlers(Engine())
    outs = list(h.generate("rings", "shipped", "outer", 2.0, 20, "ddim", 0.0, 1, 300))
    _, final, slider, video, files, state, status = outs[-1]
    assert outs[-2][0].count('<img class="gde-f') == 21  # the player holds every step of the run
    assert slider["maximum"] == 20 and "ring points" in status
    x = np.load([f for f in files if f.endswith(".npy")][0])
    assert x.shape == (300, 2) and ring_error(x, "outer") < 0.1
    png, npy = h.api_sample("rings", "inner", 2.0, 20, "ddim", 0, 100)
    assert ring_error(np.load(npy), "inner") < 0.1
    grid, metrics = h.compare_guidance("rings", "inner", 0, "0, 3")
    errors = [m["ring_error"] for m in metrics["metrics"]]
    assert errors[1] < errors[0]  # guidance pulls the unconditional mix onto the asked ring
