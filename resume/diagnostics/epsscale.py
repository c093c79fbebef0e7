"""Diagnostic (not shipped): is the unconditional error exposure bias? Samples guidance 0 with the network's eps
divided by LAMBDA (Epsilon Scaling, Ning et al. 2024: a sampling-time reading of the drift between the training
and the sampling marginals); LAMBDA = 1 is the network as shipped.
  PYTHONPATH=. .venv/bin/python resume/diagnostics/epsscale.py SNAP N_PER_CLASS LAMBDA [LAMBDA ...]"""
import sys, time
import torch
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import Checkpoint, load_checkpoint, CHECKPOINTS
from diffusion.evaluation.mnist_report import generate
from diffusion.evaluation.vs_exact import confident_share
from diffusion.core.metrics import frechet_distance
from diffusion.worlds.mnist import MNIST, classify
from diffusion.worlds.mnist_data import load_mnist

torch.set_num_threads(2)
snap, n = sys.argv[1], int(sys.argv[2])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"

class Scaled(torch.nn.Module):
    def __init__(self, model, lam):
        super().__init__(); self.model, self.lam = model, lam
    def forward(self, x, t, y):
        return self.model(x, t, y) / self.lam

lenet = load_checkpoint(CHECKPOINTS / "lenet", "lenet").model
tx, _ = load_mnist("test"); _, tf = classify(lenet, MNIST.to_data(tx))
for lam in map(float, sys.argv[3:]):
    t = time.time()
    s = GuidedSampler(Checkpoint(Scaled(net.checkpoint.model, lam), net.checkpoint.config), spacing=net.spacing)
    d, _ = generate(s, 0.0, 100, "ddpm", 0.0, n, 0)
    _, f = classify(lenet, d)
    print(f"lambda {lam:<6g} conf {confident_share(lenet, f):.1%}  fld {frechet_distance(f, tf):.2f}  ({time.time()-t:.0f} s)",
          flush=True)
