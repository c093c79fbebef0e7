"""Classifier-free guidance's two branches as two U-Nets: `model(x_t, t, y) -> eps` from `cond` for a digit's
label and from `uncond` for the empty-set label (y = num_classes).

One network trained with label dropout serves both branches, and they compete for its weights: on MNIST the
dropout that made the unconditional digits good (0.8) held the conditional ones back, and the reverse (the
record is in the shipped pair's card, checkpoints/mnist/README.md). Here each branch has its own, while a row
still costs one U-Net and a guided step is still one call with the cond and uncond rows in one batch. Each U-Net
is trained as usual, with whatever label dropout suits its branch (measured best so far: 0.5 for `cond`, 0.8 for
`uncond`), and `python -m diffusion.join` puts them together.

The embed/trunk split (`layers.ConditionedDenoiser`) is kept: `embed` returns, ahead of both U-Nets'
embeddings, a column that marks the empty-label rows, so a sampler's per-run embedding grid carries the
routing; `trunk` then runs each U-Net on its rows (the label-free stem is not shared between branches here).
"""
from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin

from .layers import ConditionedDenoiser
from .unet import UNet


class BranchUNets(ConditionedDenoiser, PyTorchModelHubMixin):
    """x (B, 1, 28, 28), t (B,), y (B,) in 0..num_classes -> eps; `cond` and `uncond` are the two U-Nets'
    constructor arguments (num_classes the same in both)."""

    def __init__(self, cond: dict, uncond: dict):
        super().__init__()
        self.cond, self.uncond = UNet(**cond), UNet(**uncond)
        if self.cond.num_classes != self.uncond.num_classes:
            raise ValueError(f"uncond num_classes={self.uncond.num_classes} is not allowed; allowed: "
                             f"cond's {self.cond.num_classes}")
        self.num_classes = self.cond.num_classes

    def _marked(self, empty: torch.Tensor, cond: list[torch.Tensor], uncond: list[torch.Tensor]) -> list[torch.Tensor]:
        mark = empty.to(cond[0].dtype).reshape(*empty.shape, 1).expand(*cond[0].shape[:-1], 1)
        return [mark, *cond, *uncond]

    def embed(self, t: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """(B,), (B,) -> [empty-label mark (B, 1), cond's embeddings..., uncond's embeddings...]."""
        return self._marked(y == self.num_classes, self.cond.embed(t, y), self.uncond.embed(t, y))

    def embed_grid(self, t: torch.Tensor) -> list[torch.Tensor]:
        """(S,) -> [mark (S, L, 1), cond's (S, L, c_k)..., uncond's (S, L, c_k)...], L = num_classes + 1."""
        labels = torch.arange(self.num_classes + 1)
        return self._marked((labels == self.num_classes).expand(len(t), -1), self.cond.embed_grid(t),
                            self.uncond.embed_grid(t))

    def trunk(self, x: torch.Tensor, embs: list[torch.Tensor]) -> torch.Tensor:
        """x (B, 1, 28, 28), embs from `embed` with k B rows each (row r's input: x[r % B]) -> eps (k B, 1, 28, 28)."""
        empty, n = embs[0][:, 0] > 0.5, len(self.cond.emb_layers())
        out = x.new_empty((len(empty), *x.shape[1:]))
        source = torch.arange(len(empty)) % len(x)
        for rows, unet, own in ((~empty, self.cond, embs[1:1 + n]), (empty, self.uncond, embs[1 + n:])):
            if bool(rows.any()):
                out[rows] = unet.trunk(x[source[rows]], [e[rows] for e in own])
        return out

    @classmethod
    def join(cls, cond: UNet, uncond: UNet) -> "BranchUNets":
        """The pair of two trained U-Nets (their weights copied in, strictly)."""
        # the mixin keeps each model's constructor arguments (what its config.json holds) here
        pair = cls(dict(cond._hub_mixin_config), dict(uncond._hub_mixin_config))
        pair.cond.load_state_dict(cond.state_dict(), strict=True)
        pair.uncond.load_state_dict(uncond.state_dict(), strict=True)
        return pair
