"""Diagnostic (not shipped): is the unconditional error exposure bias? Samples guidance 0 with the network's eps
divided by LAMBDA (Epsilon Scaling, Ning et al. 2024: a sampling-time reading of the drift between the training
and the sampling marginals); LAMBDA = 1 is the network as shipped.
  PYTHONPATH=. .venv/bin/python resume/diagnostics/epsscale.py SNAP N_PER_CLASS LAMBDA [LAMBDA ...]"""
import sys
import torch
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import Checkpoint
from judge import score

snap, n = sys.argv[1], int(sys.argv[2])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"

class Scaled(torch.nn.Module):
    def __init__(self, model, lam):
        super().__init__(); self.model, self.lam = model, lam
    def forward(self, x, t, y):
        return self.model(x, t, y) / self.lam

for lam in map(float, sys.argv[3:]):
    scaled = Checkpoint(Scaled(net.checkpoint.model, lam), net.checkpoint.config)
    score(f"lambda {lam:g}", GuidedSampler(scaled, spacing=net.spacing), n)
