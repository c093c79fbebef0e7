"""Guidance methods that ask a second model: autoguidance (a weaker denoiser) and classifier
guidance (a noise-aware classifier). Both models are passed in as plain callables, so the same
code runs a trained network or the exact reference of a finite pool (`diffusion.models.exact`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch

from .guiders import Guider, RunModel, Step, spec


@dataclass(frozen=True)
class AutoGuidance(Guider):
    """Autoguidance (Karras et al. 2024, "Guiding a Diffusion Model with a Bad Version of
    Itself"): the unconditional branch of CFG is replaced by a weaker model D_0 with the same
    label, e.g. a smaller or shorter-trained version of the same denoiser:

        eps = eps_0(x_t, t, y) + s (eps(x_t, t, y) - eps_0(x_t, t, y))

    `weak_model` keeps the denoiser contract model(x_t, t, y) -> eps (an embed/trunk model gets
    its fast path too). Rows with the null label are guided as well: autoguidance also guides an
    unconditional model. s = 1 calls only the main model, s = 0 only the weak one."""
    name: ClassVar[str] = "autoguidance"
    needs_alpha_bar: ClassVar[bool] = False
    weak_model: Callable | None = spec(None, kind="model", doc="a weaker denoiser model(x_t, t, y) -> eps")

    def new_state(self, times):
        return RunModel(self.weak_model, times)

    def branches(self, s, step):
        return "none" if s == 0 else "cond"

    def combine(self, s, eps_c, eps_u, step: Step, weak: RunModel):
        if s == 1:
            return eps_c
        eps_w = weak(step.x, step.i, step.y)
        return eps_w if s == 0 else torch.lerp(eps_w, eps_c, s)


def log_prob_grad(classifier: Callable, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """grad_x log p(y | x_t) per row (B, ...), with p = softmax(classifier(x_t, t)) over the real
    classes; labels y (B,) must be real classes.

    The sampler runs in torch.inference_mode, where no graph is recorded and inference tensors
    cannot take part in autograd: the gradient is taken with inference mode switched off and
    grad enabled, on a fresh leaf copy of x_t (and copies of t, y). Rows are independent as long
    as the classifier treats them so (no batch statistics), so the gradient of the sum of the
    rows' log-probabilities is each row's own gradient."""
    with torch.inference_mode(False), torch.enable_grad():
        leaf = x.detach().clone().requires_grad_(True)
        logits = classifier(leaf, t.clone())
        logp = torch.log_softmax(logits, dim=1).gather(1, y.clone()[:, None]).sum()
        (grad,) = torch.autograd.grad(logp, leaf)
    return grad


@dataclass(frozen=True)
class ClassifierGuidance(Guider):
    """Classifier guidance (Dhariwal & Nichol 2021, "Diffusion Models Beat GANs on Image
    Synthesis", Alg. 2): the unconditional eps shifted along the gradient of a noise-aware
    classifier p(y | x_t),

        eps = eps_u - s sqrt(1 - alpha_bar_t) grad_x log p(y | x_t)

    `classifier(x_t, t) -> logits` (B, C) over the real classes 0..C-1, t the network timestep.
    Since grad log p(y | x_t) = grad log p(x_t | y) - grad log p(x_t) = -(eps_c - eps_u) / sigma
    for perfect models, this is CFG at the same s when the classifier is the exact one of the
    denoiser's data (tests/test_guidance_methods.py). Rows with the null label have no class to
    guide toward: they keep eps_u. Needs autograd through the classifier (see `log_prob_grad`)."""
    name: ClassVar[str] = "classifier"
    classifier: Callable | None = spec(None, kind="model", doc="a noise-aware classifier(x_t, t) -> logits")

    def branches(self, s, step):
        return "uncond"

    def combine(self, s, eps_c, eps_u, step: Step, state: Any):
        if s == 0 or step.all_null:
            return eps_u
        real = step.y != step.null_label
        grad = log_prob_grad(self.classifier, step.x, step.t, torch.where(real, step.y, 0))
        grad = grad * real.view(-1, *(1,) * (grad.dim() - 1))
        return eps_u - (s * step.sigma_vp) * grad.to(eps_u.dtype)
