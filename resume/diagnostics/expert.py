"""Diagnostic (not shipped): the expert pair (resume/README: arm (b)), EXPERT for t >= T0 and SNAP below, at guidance 0 (confident share,
FLD; N0 per class) and at guidance 1 (accuracy; N1 per class), seed 0, 100 DDPM steps.
  PYTHONPATH=. .venv/bin/python resume/diagnostics/expert.py SNAP EXPERT T0 N0 N1"""
import sys
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import Checkpoint
from hybrid_model import Hybrid
from judge import accuracy, score

snap, expert, t0, n0, n1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
net = GuidedSampler.load("mnist", snap); net.spacing = "uniform"
X = GuidedSampler.load("mnist", expert).checkpoint.model
pair = GuidedSampler(Checkpoint(Hybrid(X, net.checkpoint.model, t0), net.checkpoint.config), spacing="uniform")
score(f"expert t>={t0}, net below", pair, n0)
accuracy(f"expert t>={t0}, net below", pair, 1.0, n1)
