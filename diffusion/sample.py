"""Sample with classifier-free guidance (or another guidance method) from the command line.

  python -m diffusion.sample points --label spiral --guidance 1 --steps 100 --sampler ddpm \
      --n 1000 --seed 0 --out spiral.npy        # float32 (n, 2) in [-1, 1]
  python -m diffusion.sample mnist --label 3 --guidance 2 --steps 100 --n 100 --out threes.png
      # .npy: float32 (n, 28, 28) in [0, 1]; .png: a scatter plot or a digit grid
  python -m diffusion.sample mnist --exact 2000 --label 3 --guidance 2 --out exact.png
      # the same with the exact denoiser of 2000 training examples per class instead of the network
  python -m diffusion.sample mnist --label 3 --guidance 2 --method rescale --phi 0.7 --out r.png
      # another guidance method (--method cfg rescale interval apg cfg_zero_star autoguidance
      # classifier) with its parameters (--phi, --sigma-lo, --apg-eta, ...; see --help)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from .drawing.pictures import save_png
from .guided_sampler import GuidedSampler
from .inputs import (SPACING, ETA, EXACT, GUIDANCE, SAMPLER, SEED, STEPS, Parser, check_world, method_params_of, n_param,
                     run)
from .worlds import world_names


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.sample", description="Sample with classifier-free guidance or another "
                "guidance method. autoguidance and classifier use the world's shipped weak model and "
                "noise-aware classifier (with --exact: the exact ones of the pool).")
    ap.add_argument("world", help=f"one of: {', '.join(world_names())}")
    ap.add_argument("--label", default="random", help="class name or digit, or 'random' (unconditional)")
    ap.add_param(GUIDANCE, "1")
    ap.add_param(STEPS, "100")
    ap.add_param(SAMPLER, "ddpm")
    ap.add_param(ETA, "0")
    ap.add_argument("--spacing", default=None, help=f"{SPACING.help} ({SPACING.allowed()}; default: the world's)")
    ap.add_argument("--n", default=None, help="number of samples (default: the world's, 1000 points or 16 digits)")
    ap.add_param(SEED, "0")
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo id")
    ap.add_argument("--exact", default=None, metavar="N",
                    help="sample the exact denoiser of N training examples per class instead of the network")
    ap.add_argument("--out", required=True, help="output file: .npy (the data) or .png (a picture)")
    ap.add_method_params()
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    out = Path(args.out)
    if out.suffix.lower() not in (".npy", ".png"):
        raise ValueError(f"--out {args.out!r} must end in .npy or .png")
    world = check_world(args.world)
    n = world.sizes.default_n if args.n is None else n_param(world).parse(args.n)
    seed = SEED.parse(args.seed)
    method, params = args.method, method_params_of(args)
    sampler = GuidedSampler.load(world, args.checkpoint)
    sampler.spacing = None if args.spacing is None else SPACING.parse(args.spacing)
    if args.exact is not None:
        sampler = sampler.exact(EXACT.parse(args.exact), seed)
    traj = sampler.sample(args.label, GUIDANCE.parse(args.guidance), STEPS.parse(args.steps),
                          SAMPLER.parse(args.sampler), ETA.parse(args.eta), n, seed, keep_trajectory=False,
                          method=method, **params)
    data = sampler.to_data(traj.samples)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, data)
    else:
        how = "" if method == "cfg" else f" ({method})"
        title = f"{args.label}, guidance {args.guidance}{how}, {args.steps} {args.sampler} steps"
        save_png(world.final_image(data, title), str(out))
    print(f"wrote {out} ({data.shape[0]} samples, {world.name}, label {args.label})")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
