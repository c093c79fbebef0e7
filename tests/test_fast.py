"""The fast path (prepared model, precomputed embeddings, shared label-free stem, batched guidance)
computes what the plain path (the model's forward on the doubled batch, every step) computes, to
1e-4, on the same seed."""
import copy

import pytest
import torch

from diffusion.models.checkpoint import default_checkpoint, load_checkpoint
from diffusion.models.inference import count_flops, prepare
from diffusion.core.gaussian import GaussianDiffusion
from diffusion.models.mlp import PointDenoiser
from diffusion.models.layers import add_rows
from diffusion.core.sampling import sample
from diffusion.training.presets import preset
from diffusion.models.unet import UNet


class PlainForward(torch.nn.Module):
    """Hides embed/trunk: the sampler then calls model(x, t, y) on the doubled batch each step."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x, t, y):
        return self.model(x, t, y)


def randomized(model, seed=0):
    """Random weights from a private generator (the U-Net's output conv starts at zero, which
    would make every eps 0 and the comparison empty)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5) + (p.dim() == 1) * 0.1)
    return model.eval()


def models():
    yield "unet", randomized(UNet(**preset("mnist")["model"])), (1, 28, 28), 10
    yield "mlp", randomized(PointDenoiser(num_classes=3, width=64, depth=2)), (2,), 3
    for world, shape, classes in (("points", (2,), 3), ("mnist", (1, 28, 28), 10)):
        if (default_checkpoint(world) / "model.safetensors").is_file():
            yield f"shipped {world}", load_checkpoint(default_checkpoint(world), world).model, shape, classes


@pytest.mark.parametrize("case", list(models()), ids=lambda c: c[0])
@pytest.mark.parametrize("guidance,sampler,eta", [(2.0, "ddpm", 0.0), (1.0, "ddpm", 0.0),
                                                  (0.0, "ddpm", 0.0), (3.0, "ddim", 0.5)])
def test_fast_sampler_path_equals_plain_path(case, guidance, sampler, eta):
    """Precomputed embeddings, the shared stem and the batched guidance vs the model's forward on
    the doubled batch at every step, same (prepared) weights: every frame to float rounding (see below)."""
    _, model, shape, classes = case
    model = prepare(copy.deepcopy(model))
    diffusion = GaussianDiffusion.from_schedule("cosine", 1000)
    y = torch.tensor([0, 1, classes - 1, classes])  # the last row is the empty ("random") label
    kw = dict(guidance=guidance, steps=8, sampler=sampler, eta=eta)
    plain = sample(PlainForward(model), diffusion, y, shape, classes,
                   generator=torch.Generator().manual_seed(3), **kw)
    fast = sample(model, diffusion, y, shape, classes, generator=torch.Generator().manual_seed(3), **kw)
    # x0 = (x_t - sqrt(1 - a) eps) / sqrt(a) at t = 999 (sqrt(a) = 4.9e-5) turns the float32 rounding of eps,
    # which differs between batch shapes as oneDNN picks its kernels per machine, into up to ~5e-3 on a
    # frame (measured on the 2026-12-03 machine); a scale off by 5% moves a frame by 0.48, a wrong label by 2.
    torch.testing.assert_close(fast.xs, plain.xs, atol=2e-2, rtol=0)
    torch.testing.assert_close(fast.x0s, plain.x0s, atol=2e-2, rtol=0)


@pytest.mark.parametrize("case", list(models()), ids=lambda c: c[0])
def test_fast_path_equals_plain_eager_path_over_100_steps(case):
    """The whole fast path (prepare(): channels_last weights; embeddings precomputed for the run;
    the label-free stem shared by cond and uncond rows) against the plain eager model called on
    the doubled batch every step: 100 guided DDPM steps from the same seed, every x_t and x0 frame
    within 1e-4. In float64, so that the test sees the path's math and not float32 rounding, which
    100 guided steps amplify chaotically (and x0 near t = T multiplies by 1/sqrt(alpha_bar), up to
    2e4 on the cosine schedule); `python -m diffusion.bench` reports the float32 difference."""
    _, model, shape, classes = case
    diffusion = GaussianDiffusion.from_schedule("cosine", 1000)
    y = torch.tensor([0, classes - 1, classes])
    x_T = torch.randn((3, *shape), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    kw = dict(guidance=2.0, steps=100, x_T=x_T)
    plain = sample(PlainForward(copy.deepcopy(model).double().eval()), diffusion, y, shape, classes,
                   generator=torch.Generator().manual_seed(5), **kw)
    fast = sample(prepare(copy.deepcopy(model).double()), diffusion, y, shape, classes,
                  generator=torch.Generator().manual_seed(5), **kw)
    assert fast.xs.dtype == torch.float64
    torch.testing.assert_close(fast.xs, plain.xs, atol=1e-4, rtol=0)
    torch.testing.assert_close(fast.x0s, plain.x0s, atol=1e-4, rtol=0)


@pytest.mark.parametrize("case", list(models())[:2], ids=lambda c: c[0])
def test_trunk_shares_the_stem_between_cond_and_uncond_rows(case):
    _, model, shape, classes = case
    g = torch.Generator().manual_seed(1)
    x, t = torch.randn((3, *shape), generator=g), torch.tensor([900, 40, 0])
    rows = torch.tensor([0, 1, 2, classes, classes, classes])
    with torch.no_grad():
        doubled = model(torch.cat([x, x]), torch.cat([t, t]), rows)
        shared = model.trunk(x, model.embed(torch.cat([t, t]), rows))
        grid = model.embed_grid(t)  # (S, L, c): row [s, l] is the embedding of (t_s, l)
        gathered = model.trunk(x, [e[torch.tensor([0, 1, 2, 0, 1, 2]), rows] for e in grid])
    torch.testing.assert_close(shared, doubled, atol=1e-5, rtol=0)
    torch.testing.assert_close(gathered, doubled, atol=1e-5, rtol=0)


def test_add_rows_repeats_the_smaller_operand():
    a, b = torch.arange(2.0).reshape(2, 1), torch.tensor([[10.0], [20.0], [30.0], [40.0]])
    assert add_rows(a, b).flatten().tolist() == [10, 21, 30, 41]
    assert add_rows(b, a).flatten().tolist() == [10, 21, 30, 41]
    assert add_rows(a, a).flatten().tolist() == [0, 2]


def test_prepare_keeps_outputs_and_state_dict_keys():
    model = randomized(UNet(**preset("mnist")["model"]))
    x, t, y = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)), torch.tensor([5, 700]), torch.tensor([3, 10])
    with torch.no_grad():
        before = model(x, t, y)
    keys = {k: v.shape for k, v in model.state_dict().items()}
    prepare(model)
    with torch.no_grad():
        torch.testing.assert_close(model(x, t, y), before, atol=1e-5, rtol=0)
    assert {k: v.shape for k, v in model.state_dict().items()} == keys
    assert not any(p.requires_grad for p in model.parameters())


def layer_macs(model, *inputs) -> int:
    """Multiply-adds from each layer's own shapes, seen by forward hooks: a convolution costs
    out.numel() x in_channels/groups x kernel area, a linear layer out.numel() x in_features, and
    attention (q k^T, then weights @ v) 2 x channels x positions^2 per image."""
    macs = []

    def hook(m, inp, out):
        if isinstance(m, torch.nn.Conv2d):
            macs.append(out.numel() * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1])
        elif isinstance(m, torch.nn.Linear):
            macs.append(out.numel() * m.in_features)
        elif type(m).__name__ == "Attention":
            b, c, h, w = inp[0].shape
            macs.append(2 * b * c * (h * w) ** 2)
    handles = [m.register_forward_hook(hook) for m in model.modules()]
    with torch.no_grad():
        model(*inputs)
    for handle in handles:
        handle.remove()
    return sum(macs)


def test_counted_work():
    """count_flops = 2 x the multiply-adds that the layers' shapes give, for the recipe's U-Net and the
    earlier (16, 32, 96) one (82.5 MFLOP per image), and the MLP's from its sizes: inp 26w, time MLP
    2w^2, per block fc1 + fc2 + emb 3w^2, out 2w (also through the fused addmms)."""
    one = (torch.randn(1, 1, 28, 28), torch.tensor([3]), torch.tensor([1]))
    for unet in (UNet(**preset("mnist")["model"]), UNet(10, (16, 32, 96), 128)):
        assert count_flops(unet, *one) == 2 * layer_macs(unet, *one)
    assert round(count_flops(UNet(10, (16, 32, 96), 128), *one) / 1e6, 1) == 82.5
    w, d = 64, 2
    mlp = PointDenoiser(3, w, d)
    macs = 26 * w + 2 * w * w + d * 3 * w * w + 2 * w
    assert count_flops(mlp, torch.randn(1, 2), torch.tensor([3]), torch.tensor([1])) == 2 * macs
