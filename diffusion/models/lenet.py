"""A LeNet-5 style digit classifier: the judge of accuracy and the feature extractor of FLD
(the Frechet distance between LeNet features, as FID is between Inception features)."""
from __future__ import annotations

import torch
from huggingface_hub import PyTorchModelHubMixin
from torch import nn


class LeNet(nn.Module, PyTorchModelHubMixin):
    """x (B, 1, 28, 28) in [-1, 1] -> logits (B, 10); `features(x)` -> (B, feature_dim)."""

    def __init__(self, channels: tuple | list = (32, 64), hidden: int = 256, feature_dim: int = 128,
                 dropout: float = 0.3):
        super().__init__()
        c1, c2 = channels
        self.conv = nn.Sequential(
            nn.Conv2d(1, c1, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),  # 14x14
            nn.Conv2d(c1, c2, 5), nn.ReLU(), nn.MaxPool2d(2),  # 5x5
            nn.Flatten(), nn.Dropout(dropout),
            nn.Linear(c2 * 25, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))
