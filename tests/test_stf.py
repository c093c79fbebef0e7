"""The Stable Target Field target: the exact denoiser's eps on its reference set, the plain noise
without one, and a training option that reaches the loss and the card."""
import numpy as np
import pytest
import torch

from conftest import changes_the_loss_not_the_validation, points_train_config
from diffusion import train as train_cli
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.stf import stf_eps_target
from diffusion.models.checkpoint import load_checkpoint
from diffusion.models.exact import ExactDenoiser

DIFF = GaussianDiffusion.from_schedule("cosine", 1000)
ROOT = torch.from_numpy(np.sqrt(DIFF.alphas_cumprod_f64))
SIGMA = torch.from_numpy(np.sqrt(1.0 - DIFF.alphas_cumprod_f64))
NULL = 3


def pool(n=9, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(n, 1, 2, 2, generator=g, dtype=torch.float64) * 2 - 1,
            torch.arange(n) % NULL)


def q_sample(x0, t, noise):
    """The forward process in float64 (the tables `target` takes)."""
    return ROOT[t].reshape(-1, 1, 1, 1) * x0 + SIGMA[t].reshape(-1, 1, 1, 1) * noise


def target(x_t, x0, y, t, ref_x, ref_y):
    return stf_eps_target(x_t, x0, y, ROOT[t], SIGMA[t], ref_x, ref_y, NULL)


def test_over_the_rest_of_a_pool_it_is_the_exact_denoisers_eps_for_every_label_and_noise_level():
    data, labels = pool()
    exact = ExactDenoiser(data, labels, DIFF.alphas_cumprod_f64, NULL)
    g = torch.Generator().manual_seed(1)
    for own, t, y in [(0, 5, 0), (1, 300, 1), (2, 700, NULL), (4, 999, NULL), (5, 120, 2), (7, 850, 1)]:
        y = labels[own].item() if y != NULL else NULL
        x_t = q_sample(data[own:own + 1], torch.tensor([t]), torch.randn(1, 1, 2, 2, generator=g,
                                                                          dtype=torch.float64))
        rest = torch.arange(len(data)) != own
        got = target(x_t, data[own:own + 1], torch.tensor([y]), torch.tensor([t]), data[rest], labels[rest])
        want = exact(x_t, torch.tensor([t]), torch.tensor([y]))
        torch.testing.assert_close(got, want, rtol=1e-9, atol=1e-9)


def test_without_reference_or_at_low_noise_it_is_the_rows_own_noise():
    data, labels = pool()
    g = torch.Generator().manual_seed(2)
    t = torch.tensor([0, 400, 999, 1])
    noise = torch.randn(4, 1, 2, 2, generator=g, dtype=torch.float64)
    x_t = q_sample(data[:4], t, noise)
    none = target(x_t, data[:4], labels[:4], t, data[:0], labels[:0])
    torch.testing.assert_close(none, noise, rtol=0, atol=1e-9)
    far = 5 * torch.sign(data[4:])  # examples far from every x_t: no weight at t = 0 and 1
    low = target(x_t[[0, 3]], data[[0, 3]], torch.full((2,), NULL), t[[0, 3]], far, labels[4:])
    torch.testing.assert_close(low, noise[[0, 3]], rtol=0, atol=1e-9)


def test_a_row_of_one_class_never_takes_weight_from_another_class():
    data, labels = pool()
    t = torch.tensor([500])  # mid noise: every candidate takes weight
    x_t = torch.zeros(1, 1, 2, 2, dtype=torch.float64)
    others = labels != 0
    same = target(x_t, data[:1], torch.tensor([0]), t, data[others], labels[others])
    plain = target(x_t, data[:1], torch.tensor([0]), t, data[:0], labels[:0])
    torch.testing.assert_close(same, plain, rtol=0, atol=1e-12)
    mixed = target(x_t, data[:1], torch.tensor([NULL]), t, data[others], labels[others])
    assert (mixed - plain).abs().max() > 1e-3  # the empty-set label averages over every class


def test_the_training_option_changes_the_loss_not_the_validation_and_names_itself_in_the_card(tmp_path):
    stf = points_train_config(tmp_path / "b", stf_reference=256)
    b = changes_the_loss_not_the_validation(points_train_config(tmp_path / "a"), stf)
    b.run(progress=False)
    assert "Stable Target Field targets over 256 reference examples" in (tmp_path / "b" / "ck" / "README.md").read_text()


def test_the_cli_takes_the_reference_size_into_the_run_and_names_the_range_when_it_is_out_of_it(tmp_path):
    with pytest.raises(ValueError, match=r"stf-reference=-3 .*0\.\.100000"):
        train_cli.main(["points", "--out", str(tmp_path / "bad"), "--steps", "1", "--stf-reference", "-3"])
    assert train_cli.main(["points", "--out", str(tmp_path / "ok"), "--steps", "1", "--stf-reference", "64",
                           "--threads", "1"]) == 0
    assert load_checkpoint(tmp_path / "ok", "points").history["train_config"]["stf_reference"] == 64
