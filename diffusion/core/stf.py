"""The Stable Target Field training target (Xu et al. 2023, "Stable Target Field for Reduced Variance
Score Estimation in Diffusion Models").

The plain target of the denoising loss is the noise that made x_t from its own x0. Its expectation given
x_t is the exact denoiser's eps, but at high noise many training examples could have made x_t, so the
single-example target is very noisy, most of all for the empty-set label, whose posterior spans every
class. STF replaces it by the eps of the posterior mean of x0 over a reference set that holds the
row's own x0 and n further training examples of the row's label (all of them for the empty-set label):

    w_i = softmax_i( (sqrt(ab) <x_t, x_i> - ab ||x_i||^2 / 2) / (1 - ab) ),
    target = (x_t - sqrt(ab) sum_i w_i x_i) / sqrt(1 - ab)

(the formula of `models.exact.ExactDenoiser` on a random reference set). At low noise the own x0 takes
all the weight and the target is the plain one; the bias of the self-normalised average shrinks as n
grows (the paper's bound), and the minimiser is the same exact denoiser.
"""
from __future__ import annotations

import torch


def posterior_logits(x: torch.Tensor, pool: torch.Tensor, half_sq: torch.Tensor, root: torch.Tensor,
                     var: torch.Tensor) -> torch.Tensor:
    """log q(x_t | x0 = pool_i) up to a per-row constant: x (B, D) flat x_t, pool (N, D), half_sq (N,)
    = ||pool_i||^2 / 2, root and var (B, 1) = sqrt(ab) and 1 - ab -> (B, N); softmax over N gives
    the posterior weights of the pool's examples (shared with `models.exact.ExactDenoiser`)."""
    return (root * (x @ pool.T) - root * root * half_sq) / var


def stf_eps_target(x_t: torch.Tensor, x0: torch.Tensor, y: torch.Tensor, root: torch.Tensor,
                   sigma: torch.Tensor, ref_x: torch.Tensor, ref_y: torch.Tensor, null_label: int) -> torch.Tensor:
    """x_t, x0 (B, *shape); y (B,) labels after label dropout (null_label: any class); root, sigma (B,)
    sqrt(ab) and sqrt(1 - ab) of each row, the ones x_t was made with (so that the own-x0 term returns
    that noise to rounding); ref_x (n, *shape), ref_y (n,) further training examples -> eps target
    (B, *shape). The row's own x0 is always a candidate, so n = 0 gives the plain noise target."""
    b = len(x_t)
    xt, own = x_t.reshape(b, -1), x0.reshape(b, -1)
    ref = ref_x.reshape(len(ref_x), xt.shape[1])
    root, sigma = root.reshape(b, 1).to(xt.dtype), sigma.reshape(b, 1).to(xt.dtype)
    ab, var = root * root, sigma * sigma
    own_logit = (root * (xt * own).sum(1, keepdim=True) - ab * own.pow(2).sum(1, keepdim=True) / 2) / var
    ref_logits = posterior_logits(xt, ref, ref.pow(2).sum(1) / 2, root, var)
    same = (ref_y.unsqueeze(0) == y.unsqueeze(1)) | (y == null_label).unsqueeze(1)
    ref_logits = ref_logits.masked_fill(~same, float("-inf"))
    w = torch.softmax(torch.cat([own_logit, ref_logits], dim=1), dim=1)
    mean = w[:, :1] * own + w[:, 1:] @ ref
    return ((xt - root * mean) / sigma).reshape(x_t.shape)
