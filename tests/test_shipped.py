"""The shipped checkpoints still do their job: a broken or swapped checkpoint fails `make test`.
And one seed gives the same samples through the CLI, the Python API and the app."""
import numpy as np
import pytest

from diffusion import sample as sample_cli
from diffusion.app.engine import Engine
from diffusion.app.handlers import SamplingHandlers
from diffusion.guided_sampler import GuidedSampler
from diffusion.worlds import get_world
from diffusion.worlds.mnist import classify, judge
from diffusion.worlds.points import POINT_LABELS


def test_shipped_points_model_draws_each_pattern():
    s, world = GuidedSampler.load("points"), get_world("points")
    for label in POINT_LABELS:
        x = s.to_data(s.sample(label, 2.0, 100, "ddpm", 0.0, 300, 0, keep_trajectory=False).samples)
        assert world.measure(label, x)["distance"] < 0.02, label


def test_shipped_mnist_model_draws_the_asked_digits():
    s = GuidedSampler.load("mnist")
    labels = [str(d) for d in range(10) for _ in range(6)]
    x = s.to_data(s.sample(labels, 2.0, 20, "ddim", 0.0, len(labels), 0, keep_trajectory=False).samples)
    pred = classify(judge(), x)[0]
    assert x.shape == (60, 28, 28) and np.mean(pred == np.array(labels, dtype=int)) >= 0.9


@pytest.mark.parametrize("world, label", [("points", "moons"), ("mnist", "4")])
def test_one_seed_gives_the_same_samples_through_cli_api_and_app(tmp_path, world, label):
    args = dict(guidance=2.0, steps=10, sampler="ddim", n=8, seed=123)
    out = tmp_path / "cli.npy"
    assert sample_cli.main([world, "--label", label, "--out", str(out)]
                           + [a for k, v in args.items() for a in (f"--{k}", str(v))]) == 0
    api = GuidedSampler.load(world)
    from_api = api.to_data(api.sample(label, args["guidance"], args["steps"], args["sampler"], 0.0, args["n"],
                                      args["seed"]).samples)
    png, npy = SamplingHandlers(Engine()).api_sample(world, label, args["guidance"], args["steps"],
                                                     args["sampler"], args["seed"], args["n"])
    assert np.array_equal(np.load(out), from_api) and np.array_equal(np.load(npy), from_api)


def test_shipped_mnist_data_files_match_the_data_they_stand_for():
    """The app reads these instead of MNIST: the test digits' LeNet feature statistics of the shipped
    judge, and the exact reference's pool, which must be what `per_class` draws from the training set."""
    import torch

    from diffusion.worlds import mnist_assets
    from diffusion.worlds.mnist import MNIST, compute_real_stats
    from diffusion.worlds.mnist_data import load_mnist, per_class, to_model_range
    shipped, fresh = mnist_assets.load_stats(), compute_real_stats()
    assert shipped is not None and sorted(shipped) == sorted(fresh) and len(shipped) == 11
    for key, (mu, cov) in fresh.items():
        np.testing.assert_allclose(shipped[key][0], mu, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(shipped[key][1], cov, rtol=1e-4, atol=1e-5)
    x, y = load_mnist("train")
    idx = per_class(y, 7, mnist_assets.POOL_SEED)
    digits, labels = mnist_assets.pool_subset(7, mnist_assets.POOL_SEED)
    assert torch.equal(labels, y[idx])
    # 8 bits a pixel, as MNIST stores them: within one grey level of the loaded digits
    assert digits.dtype == torch.uint8 and (to_model_range(digits) - x[idx]).abs().max() <= 2 / 255 + 1e-6
    assert mnist_assets.pool_subset(7, seed=5) is None  # another draw: the data, not the pool
    ab = torch.linspace(0.99, 0.01, 10)
    a, b = MNIST.exact_model(7, ab, seed=mnist_assets.POOL_SEED), MNIST.exact_model(7, ab, seed=5)
    assert torch.equal(a.pool, to_model_range(digits).reshape(70, -1).double()) and not torch.equal(a.pool, b.pool)
