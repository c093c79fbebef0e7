"""Measure what guidance does, on a shipped (or any) checkpoint.

  python -m diffusion.evaluate points [--guidance 1] [--steps 100] [--n 1000] [--seed 0]
      per label: distance (mean sample -> curve) and coverage (mean curve -> sample), spread;
      for "random": the share of samples on each pattern.
  python -m diffusion.evaluate mnist --guidance 0 1 2 3 5 --n-per-class 100 --steps 100
      per guidance: LeNet accuracy, mean precision/recall/F1, FLD, diversity, time.
  python -m diffusion.evaluate mnist --exact 2000 --guidance 1 2
      the same for the exact denoiser of 2000 training examples per class (same schedule, same
      sampler): what guidance does with a perfect model of those examples.
  python -m diffusion.evaluate mnist --vs-exact 2000 --guidance 0 1 2 3
  python -m diffusion.evaluate points --vs-exact 2000
      the network beside the exact denoiser of N training examples per class, same seeds: FLD
      (points: distance, coverage) of both and their ratio: how much of what we see is the network's.
  python -m diffusion.evaluate lenet
      the judge itself: its accuracy on the 10k real test digits, per digit.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .evaluation import mnist_report, points_report, vs_exact
from .guided_sampler import GuidedSampler
from .hub.card import update_card
from .inputs import ETA, EXACT, GUIDANCE, SAMPLER, SEED, STEPS, Param, Parser, check_world, n_param, run
from .training.tasks import LENET
from .worlds import world_names
from .worlds.mnist import MNIST
from .worlds.points import POINTS

REPORTS = {POINTS.name: points_report.report, MNIST.name: mnist_report.report}
VS_EXACT = {POINTS.name: vs_exact.points_vs_exact, MNIST.name: vs_exact.mnist_vs_exact}
N_PER_CLASS = Param("n-per-class", int, 1, 6000, help="mnist: samples per digit")



def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("world", help=f"one of: {', '.join(world_names())}, {LENET}")
    ap.add_argument("--guidance", nargs="+", default=None, help=f"guidance scales ({GUIDANCE.allowed()})")
    ap.add_param(STEPS, "100")
    ap.add_param(SAMPLER, "ddpm")
    ap.add_param(ETA, "0")
    ap.add_argument("--n", default=None, help="points: samples per label (default: the world's, 1000)")
    ap.add_param(N_PER_CLASS, "100", flag="--n-per-class")
    ap.add_param(SEED, "0")
    ap.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo id")
    ap.add_argument("--lenet", default=None, help="mnist: the classifier checkpoint folder")
    ap.add_argument("--exact", default=None, metavar="N",
                    help="evaluate the exact denoiser of N training examples per class instead")
    ap.add_argument("--vs-exact", default=None, metavar="N",
                    help="one table: the network beside the exact denoiser of N examples per class")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    ap.add_argument("--markdown", default=None, help="also write the table to this Markdown file")
    ap.add_argument("--histogram", default=None, help="mnist: save per-digit label histograms (PNG)")
    ap.add_argument("--update-card", action="store_true", help="put the table in the model card")
    return ap


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.world == LENET:
        table, note, folder = mnist_report.evaluate_lenet(args)
        print(table)
        print(note)
        if args.update_card:
            update_card(folder, f"## Evaluation\n\n`python -m diffusion.evaluate lenet`\n\n{table}\n\n{note}")
        return 0
    world = check_world(args.world)
    if world.name not in REPORTS:
        raise ValueError(f"world={world.name!r} has no evaluation table; allowed: {', '.join(REPORTS)}")
    args.guidance = None if args.guidance is None else [GUIDANCE.parse(g) for g in args.guidance]
    args.steps, args.sampler, args.eta = STEPS.parse(args.steps), SAMPLER.parse(args.sampler), ETA.parse(args.eta)
    args.seed, args.n_per_class = SEED.parse(args.seed), N_PER_CLASS.parse(args.n_per_class)
    args.n = world.sizes.default_n if args.n is None else n_param(world).parse(args.n)
    sampler = GuidedSampler.load(world, args.checkpoint)
    if args.exact is not None:
        if args.update_card:
            raise ValueError("--exact evaluates no checkpoint, so there is no card to update; use --markdown")
        args.exact = EXACT.parse(args.exact)
        sampler = sampler.exact(args.exact, args.seed)
    if args.vs_exact is not None:
        if args.exact is not None or args.update_card:
            raise ValueError("--vs-exact compares the network with the exact denoiser: use it without --exact "
                             "and --update-card (write the table with --markdown)")
        args.vs_exact = EXACT.parse(args.vs_exact)
        rows, table, note = VS_EXACT[world.name](sampler, sampler.exact(args.vs_exact, args.seed), args)
    else:
        rows, table, note = REPORTS[world.name](sampler, args)
    print(table)
    print(note)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n\n" + note + "\n")
    if args.update_card:
        cmd = "python -m diffusion.evaluate " + " ".join(argv if argv is not None else sys.argv[1:])
        update_card(sampler.checkpoint.path, f"## Evaluation\n\n`{cmd}`\n\n{table}\n\n{note}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
