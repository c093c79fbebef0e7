"""Diagnostic (not shipped): classifier-free guidance's branches from two checkpoints (`BranchUNets`: COND for
the digits' rows, UNCOND for the empty label's), accuracy and FLD at each guidance G (N per class, seed 0,
100 DDPM steps), as the vs-exact table measures them.
  PYTHONPATH=. .venv/bin/python resume/diagnostics/branches.py COND UNCOND N G [G ...]"""
import sys
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.branches import BranchUNets
from diffusion.models.checkpoint import Checkpoint, load_checkpoint
from judge import accuracy

cond, uncond = (load_checkpoint(d, "mnist") for d in sys.argv[1:3])
pair = GuidedSampler(Checkpoint(BranchUNets.join(cond.model, uncond.model).eval(), uncond.config), spacing="uniform")
for g in map(float, sys.argv[4:]):
    accuracy(f"cond {sys.argv[1]}", pair, g, int(sys.argv[3]))
