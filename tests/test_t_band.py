"""Training timesteps drawn from a band density (`--t-band LO HI WEIGHT`): the draw follows the
density, validation keeps the uniform draw, and bad bands name the value and the allowed range."""
import pytest
import torch

from conftest import RecordingModel, changes_the_loss_not_the_validation, points_train_config
from diffusion import train as train_cli
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.core.schedules import band_density
from diffusion.models.checkpoint import load_checkpoint

T = 100


def drawn_tables(band, n=40_000):
    """The table indices of the timesteps one loss call draws for n rows."""
    diffusion = GaussianDiffusion.from_schedule("cosine", T)
    model = RecordingModel()
    diffusion.training_loss(model, torch.zeros(n, 2), torch.zeros(n, dtype=torch.long), null_label=3, p_uncond=0.0,
                            generator=torch.Generator().manual_seed(0), t_density=torch.from_numpy(band_density(band, T)))
    index = {int(v): i for i, v in enumerate(diffusion.model_timesteps)}
    return torch.tensor([index[int(v)] for v in model.seen_t])


@pytest.mark.parametrize("band, share", [((0, 50, 3), 0.75), ((60, 100, 1), 0.4), ((20, 30, 0), 0.0),
                                         ((50, 100, 1000), 50_000 / 50_050)])
def test_the_drawn_timesteps_follow_the_band_density(band, share):
    tables = drawn_tables(band)
    inside = ((tables >= band[0]) & (tables < band[1])).float().mean().item()
    assert abs(inside - share) < 0.01, (band, inside, share)
    outside = tables[(tables < band[0]) | (tables >= band[1])]
    if len(outside) > 1000:  # outside the band the draw stays uniform over the remaining steps
        counts = torch.bincount(outside, minlength=T).float()
        kept = counts[[i for i in range(T) if not band[0] <= i < band[1]]]
        assert kept.min() > 0.7 * kept.mean()


@pytest.mark.parametrize("band, allowed", [((50, 20, 2), "lo < hi"), ((0, 101, 2), "hi <= 100"),
                                           ((0.5, 20, 2), "integers"), ((0, 50, 1001), "0..1000"),
                                           ((0, 100, 0), "above 0"), ((0, 50), "three numbers")])
def test_a_bad_band_names_the_value_and_what_is_allowed(band, allowed):
    with pytest.raises(ValueError, match=r"t_band=.* is not allowed; allowed: .*" + allowed):
        band_density(band, T)


def test_the_band_changes_the_training_draw_but_not_the_validation(tmp_path):
    changes_the_loss_not_the_validation(points_train_config(tmp_path / "a"),
                                        points_train_config(tmp_path / "b", t_band=[80, 100, 1000]))


def test_the_cli_records_the_band_in_the_run_and_its_card_and_refuses_a_bad_one(tmp_path):
    with pytest.raises(ValueError, match=r"t_band=\[80, 20, 2\] is not allowed"):
        train_cli.main(["points", "--out", str(tmp_path / "bad"), "--steps", "1", "--t-band", "80", "20", "2"])
    with pytest.raises(ValueError, match=r"t-band='a' is not allowed; allowed: a number in 0..1000"):
        train_cli.main(["points", "--out", str(tmp_path / "bad"), "--steps", "1", "--t-band", "a", "20", "2"])
    assert train_cli.main(["points", "--out", str(tmp_path / "ok"), "--steps", "1", "--t-band", "500", "1000", "2",
                           "--threads", "1"]) == 0
    assert load_checkpoint(tmp_path / "ok", "points").history["train_config"]["t_band"] == [500, 1000, 2]
    assert "t in [500, 1000) drawn 2x as often as the rest" in (tmp_path / "ok" / "README.md").read_text()
