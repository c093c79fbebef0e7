"""Inference preparation and work counting for the denoisers.

`prepare(model)` puts a loaded denoiser into its fast inference form, in place and without changing
what it computes: eval mode, no autograd, and (for convolutional models) channels_last weights, which
lets oneDNN run the 3x3 convolutions with its blocked NHWC kernels. The sampler itself needs no
switch: `diffusion.core.guidance.GuidedDenoiser` uses any `ConditionedDenoiser`'s embed/trunk split, so
the plain model and the prepared one run the same loop and agree to float rounding.

`count_flops(model, x, t, y)` counts a forward pass's work from its layers (convolutions, linear
layers and attention's two matrix products), 2 FLOP per multiply-add.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def prepare(model: nn.Module) -> nn.Module:
    """eval(), requires_grad False and, for a model with 2D convolutions, channels_last parameters.
    Returns the same module. Idempotent."""
    model.eval().requires_grad_(False)
    if any(isinstance(m, nn.Conv2d) for m in model.modules()):
        model.to(memory_format=torch.channels_last)
    return model


def count_flops(model: nn.Module, *inputs: torch.Tensor) -> int:
    """FLOP (2 per multiply-add) of model(*inputs), counted by torch's FlopCounterMode from the
    layers' matrix products: convolutions, linear layers (also when fused into one addmm with an
    add) and attention's Q K^T and weights @ V. Elementwise work (norms, SiLU, adds) is not counted."""
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        model(*inputs)
    return counter.get_total_flops()
