"""Shapes of every block, the empty label, and the size budget of the shipped U-Net."""
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from diffusion.models.lenet import LeNet
from diffusion.models.mlp import PointDenoiser
from diffusion.models.layers import ConditionEmbedding, sinusoidal_embedding
from diffusion.training.presets import preset
from diffusion.models.unet import Attention, ResBlock, UNet


def test_sinusoidal_embedding_and_condition():
    e = sinusoidal_embedding(torch.tensor([0, 5, 999]), 64)
    assert e.shape == (3, 64)
    torch.testing.assert_close(e[0], torch.cat([torch.ones(32), torch.zeros(32)]))
    cond = ConditionEmbedding(num_classes=10, dim=32)
    assert cond.label_emb.num_embeddings == 11  # ten digits + the empty-set label
    assert cond(torch.tensor([1, 2]), torch.tensor([10, 3])).shape == (2, 32)


def test_unet_blocks_shapes():
    emb = torch.randn(2, 16)
    assert ResBlock(8, 12, 16)(torch.randn(2, 8, 14, 14), emb).shape == (2, 12, 14, 14)
    assert Attention(16)(torch.randn(2, 16, 7, 7)).shape == (2, 16, 7, 7)


@pytest.mark.parametrize("y", [[0, 9, 10], [10, 10, 10]])
def test_unet_contract(y):
    m = UNet(**preset("mnist")["model"]).eval()
    out = m(torch.randn(3, 1, 28, 28), torch.tensor([0, 500, 999]), torch.tensor(y))
    assert out.shape == (3, 1, 28, 28)


def test_unet_budget():
    """The recipe's U-Net: at most 2 M parameters and 400 MFLOP (2 per multiply-add) per image, so that
    sampling stays interactive on 2 CPU cores."""
    m = UNet(**preset("mnist")["model"]).eval()
    params = sum(p.numel() for p in m.parameters())
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        m(torch.randn(1, 1, 28, 28), torch.tensor([3]), torch.tensor([1]))
    assert 300_000 <= params <= 2_000_000
    assert fc.get_total_flops() <= 400e6


def test_point_denoiser_contract():
    m = PointDenoiser(num_classes=3, width=32, depth=2)
    assert m.cond.label_emb.num_embeddings == 4
    assert m(torch.randn(5, 2), torch.arange(5), torch.tensor([0, 1, 2, 3, 3])).shape == (5, 2)


def test_lenet_shapes():
    m = LeNet().eval()
    x = torch.randn(4, 1, 28, 28)
    assert m(x).shape == (4, 10) and m.features(x).shape == (4, 128)
