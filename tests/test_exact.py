"""The exact denoiser of a finite set against a brute-force posterior, and through the sampler."""
import math

import numpy as np
import pytest
import torch

from diffusion import evaluate
from diffusion.models.exact import ExactDenoiser
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.sampling import sample

DIFF = GaussianDiffusion.from_schedule("cosine", 1000)
AB = DIFF.alphas_cumprod_f64


def brute_force_eps(x_t, t, y, data, labels, null_label):
    """eps from E[x0 | x_t, y] with each example's Gaussian likelihood written out in full."""
    out = []
    for x, ti, yi in zip(x_t.numpy().astype(np.float64), t.tolist(), y.tolist()):
        ab = AB[ti]
        keep = [i for i in range(len(data)) if yi == null_label or labels[i] == yi]
        logp = np.array([-np.sum((x - math.sqrt(ab) * data[i]) ** 2) / (2 * (1 - ab)) for i in keep])
        w = np.exp(logp - logp.max())
        x0 = (w[:, None] * data[keep]).sum(0) / w.sum()
        out.append((x - math.sqrt(ab) * x0) / math.sqrt(1 - ab))
    return np.stack(out)


def toy(n=7, seed=0):
    g = torch.Generator().manual_seed(seed)
    data = torch.rand(n, 2, generator=g) * 2 - 1
    labels = torch.tensor([0, 1, 2, 0, 1, 2, 0])[:n]
    return data, labels, ExactDenoiser(data, labels, AB, null_label=3)


def test_eps_matches_the_brute_force_posterior_for_every_label_and_noise_level():
    data, labels, model = toy()
    g = torch.Generator().manual_seed(1)
    t = torch.tensor([0, 5, 80, 400, 700, 999, 3, 550])
    y = torch.tensor([0, 1, 2, 3, 0, 3, 2, 1])
    x_t = torch.randn(8, 2, generator=g, dtype=torch.float64)
    got = model(x_t, t, y).numpy()
    want = brute_force_eps(x_t, t, y, data.double().numpy(), labels.numpy(), 3)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_at_low_noise_x0_is_the_nearest_example_of_the_class_and_at_high_noise_the_class_mean():
    data, labels, model = toy()
    x_t = torch.tensor([[0.3, -0.2]] * 4, dtype=torch.float64)
    y = torch.tensor([0, 1, 2, 3])
    x0 = DIFF.predict_x0(x_t, torch.zeros(4, dtype=torch.long), model(x_t, torch.zeros(4, dtype=torch.long), y))
    for row, label in zip(x0, y.tolist()):
        pool = data.double() if label == 3 else data[labels == label].double()
        nearest = pool[(pool - x_t[0]).norm(dim=1).argmin()]
        torch.testing.assert_close(row, nearest, rtol=0, atol=1e-6)
    t = torch.full((4,), 999)
    x0 = DIFF.predict_x0(x_t, t, model(x_t, t, y))
    means = [data[labels == k].double().mean(0) for k in range(3)] + [data.double().mean(0)]
    torch.testing.assert_close(x0, torch.stack(means), rtol=0, atol=1e-4)


def test_guided_sampling_with_it_returns_training_examples_of_the_requested_class():
    # two far-apart clusters: the sampler must end on an example of the asked class, and with the
    # empty label on an example of either
    data = torch.tensor([[-0.8, -0.8], [-0.6, -0.9], [0.7, 0.8], [0.9, 0.6]])
    labels = torch.tensor([0, 0, 1, 1])
    model = ExactDenoiser(data, labels, AB, null_label=2)
    y = torch.tensor([0] * 20 + [1] * 20 + [2] * 20)
    for guidance in (1.0, 3.0):
        x = sample(model, DIFF, y, (2,), null_label=2, keep_trajectory=False, guidance=guidance, steps=50,
                   generator=torch.Generator().manual_seed(0)).samples
        dist = torch.cdist(x.double(), data.double())
        assert dist.min(1).values.max() < 1e-3  # every sample is (numerically) a training example
        nearest_label = labels[dist.argmin(1)]
        assert torch.equal(nearest_label[:40], y[:40])
        assert set(nearest_label[40:].tolist()) == {0, 1}


def test_images_keep_their_shape():
    data = torch.rand(6, 1, 28, 28) * 2 - 1
    model = ExactDenoiser(data, torch.tensor([0, 1, 2, 0, 1, 2]), AB, null_label=10)
    out = model(torch.randn(3, 1, 28, 28), torch.tensor([10, 500, 990]), torch.tensor([0, 10, 2]))
    assert out.shape == (3, 1, 28, 28) and out.dtype == torch.float32 and torch.isfinite(out).all()


@pytest.mark.parametrize("call, needle", [
    (lambda m: m(torch.zeros(1, 2), torch.tensor([1000]), torch.tensor([0])), "0..999"),
    (lambda m: m(torch.zeros(1, 2), torch.tensor([10]), torch.tensor([5])), "[5]"),
])
def test_bad_calls_name_the_value(call, needle):
    model = ExactDenoiser(torch.zeros(2, 2), torch.tensor([0, 1]), AB, null_label=6)
    with pytest.raises(ValueError) as err:
        call(model)
    assert needle in str(err.value)


def test_bad_construction_and_cli_use_are_refused():
    with pytest.raises(ValueError, match="0..2"):
        ExactDenoiser(torch.zeros(2, 2), torch.tensor([0, 3]), AB, null_label=3)
    with pytest.raises(ValueError, match="one label per example"):
        ExactDenoiser(torch.zeros(2, 2), torch.tensor([0]), AB, null_label=3)
    with pytest.raises(ValueError, match="no card to update"):
        evaluate.main(["points", "--exact", "5", "--update-card"])
