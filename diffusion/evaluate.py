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
  python -m diffusion.evaluate mnist --samplers ddpm ddim dpm++2m dpm++2m-sde unipc --guidance 1 2
      quality per network call: each sampler at 5, 10, 20, 50, 100 steps (--calls) beside DDIM
      with 500 steps (the converged deterministic sampler); --plot FILE draws it.
  python -m diffusion.evaluate mnist --methods cfg rescale interval apg --guidance 1 2 3 [--phi 0.5 ...]
      guidance methods side by side: the same judges per method and scale (MNIST: accuracy and
      FLD; points: distance and coverage, the mean over the patterns); --plot FILE saves the
      frontier (one curve per method through its scales).
  python -m diffusion.evaluate mnist|points --grids
      the card's pictures (guidance 0, 1, 2, 3 from the same seeds; MNIST: 100 random digits too),
      written into the checkpoint folder and linked from its card.
  Add --update-card to put a table (or the pictures) into the checkpoint's model card.
  Add --cache DIR to an MNIST table that takes hours: each chunk of samples is kept in DIR, so a
      stopped run resumes where it stopped and a second table reuses the runs it shares.
  python -m diffusion.evaluate lenet [--update-card]
      the judge itself: its accuracy on the 10k real test digits, per digit; with --update-card also
      the files the app ships instead of MNIST (see `worlds/mnist_assets.py`): the test digits' LeNet
      feature statistics and the exact reference's pool of training digits.
  python -m diffusion.evaluate mnist-classifier|points-classifier [--checkpoint DIR] --n-per-class 800
      a noise-aware classifier's accuracy per noise level t on held-out data.
  python -m diffusion.evaluate mnist-weak|points-weak --candidates DIR... --guidance 1.5 2 3
          --cfg-guidance 1 2 3 5 [--checkpoint STRONG] --n-per-class 20 --steps 25 --sampler ddim
      choose autoguidance's weak model: CFG and autoguidance with each candidate, compared at equal
      fidelity; --update-card writes the table into every candidate's card.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from .drawing.pictures import save_png
from .evaluation import grids, methods_report, mnist_report, points_report, samplers_report, vs_exact
from .guided_sampler import GuidedSampler
from .hub.card import update_card
from .evaluation.autoguidance_report import autoguidance_report
from .evaluation.classifier_report import classifier_report
from .evaluation.sample_cache import SampleCache
from .inputs import (ETA, EXACT, GUIDANCE, METHOD, SAMPLER, SEED, STEPS, Param, Parser, check_world,
                     method_params_of, n_param, run, spacing_of)
from .models.checkpoint import load_checkpoint
from .models.guidance_models import CLASSIFIER, WEAK, load_role_checkpoint, split_kind
from .models.inference import prepare
from .training.presets import kinds
from .training.tasks import LENET
from .worlds import world_names
from .worlds.mnist import MNIST
from .worlds.points import POINTS

REPORTS = {POINTS.name: points_report.report, MNIST.name: mnist_report.report}
VS_EXACT = {POINTS.name: vs_exact.points_vs_exact, MNIST.name: vs_exact.mnist_vs_exact}
GRIDS = {POINTS.name: grids.points_grids, MNIST.name: grids.mnist_grids}
JUDGES = {POINTS.name: samplers_report.CurveJudge, MNIST.name: samplers_report.DigitJudge}
N_PER_CLASS = Param("n-per-class", int, 1, 6000, help="mnist: samples per digit")



def command(argv) -> str:
    """The command line as the cards quote it: without --cache, which changes where samples are
    kept, not what they are."""
    words, kept = list(argv if argv is not None else sys.argv[1:]), []
    while words:
        w = words.pop(0)
        if w == "--cache":
            words = words[1:]
        elif not w.startswith("--cache="):
            kept.append(w)
    return " ".join(["python -m diffusion.evaluate", *kept])


def save_plot(picture, args, sampler, name: str, alt: str) -> str:
    """Save a table's plot to --plot, and with --update-card beside the checkpoint as `name`;
    returns the card's Markdown link (or nothing)."""
    if args.plot:
        save_png(picture, args.plot)
    if not args.update_card:
        return ""
    save_png(picture, str(sampler.checkpoint.path / name))
    return f"\n\n![{alt}]({name})"


def build_parser() -> Parser:
    ap = Parser(prog="python -m diffusion.evaluate", description=__doc__.splitlines()[0])
    ap.add_argument("world", help=f"one of: {', '.join(world_names())}, {', '.join(kinds()[len(world_names()):])}")
    ap.add_argument("--guidance", nargs="+", default=None, help=f"guidance scales ({GUIDANCE.allowed()})")
    ap.add_param(STEPS, "100")
    ap.add_param(SAMPLER, "ddpm")
    ap.add_param(ETA, "0")
    ap.add_spacing()
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
    ap.add_argument("--samplers", nargs="+", default=None, metavar="SAMPLER",
                    help=f"quality per network call of these samplers ({', '.join(SAMPLER.choices)})")
    ap.add_argument("--calls", nargs="+", default=None, metavar="STEPS",
                    help="with --samplers: the step counts (default: 5 10 20 50 100)")
    ap.add_argument("--methods", nargs="+", default=None, metavar="METHOD",
                    help=f"guidance methods side by side ({', '.join(METHOD.choices)}), each through --guidance")
    ap.add_argument("--plot", default=None, help="with --samplers or --methods: also save the plot to this PNG file")
    ap.add_argument("--grids", action="store_true",
                    help="draw the card's sample pictures into the checkpoint folder and link them from its card")
    ap.add_argument("--candidates", nargs="+", default=None, metavar="DIR",
                    help="WORLD-weak: the candidate weak models (default: the shipped one)")
    ap.add_argument("--cfg-guidance", nargs="*", default=None,
                    help="WORLD-weak: CFG's scales (default 1 2 3 5; none: autoguidance rows only)")
    ap.add_argument("--reuse", nargs="+", default=None, metavar="JSON",
                    help="WORLD-weak: reuse the rows of earlier --json files with the same settings")
    ap.add_argument("--update-card", action="store_true", help="put the table in the model card")
    ap.add_argument("--cache", default=None, metavar="DIR",
                    help="mnist: keep each chunk of samples in DIR, so a stopped run resumes where it stopped "
                         "(keyed by the weights, the sampling code and the settings)")
    ap.add_method_params(with_method=False)
    return ap


def check_cache(args) -> None:
    """--cache only where it saves hours: the MNIST denoiser's tables. Refused elsewhere, with the reason,
    before anything loads."""
    if args.cache is None:
        return
    if args.world == LENET:
        raise ValueError("--cache keeps a denoiser's samples; lenet judges the test digits and samples none: "
                         "run it without --cache")
    if split_kind(args.world)[1]:
        raise ValueError(f"--cache is for the denoisers' tables; {args.world} resumes with --reuse JSON")
    if check_world(args.world).name != MNIST.name:
        raise ValueError(f"--cache keeps MNIST digits; a {args.world} evaluation takes minutes, not hours: "
                         "run it without --cache")


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    check_cache(args)
    if args.world == LENET:
        table, note, folder = mnist_report.evaluate_lenet(args)
        print(table)
        print(note)
        if args.update_card:
            update_card(folder, f"## Evaluation\n\n`python -m diffusion.evaluate lenet`\n\n{table}\n\n{note}")
            for path in mnist_report.save_shipped_data(folder):
                print(f"wrote {path}")
        return 0
    if split_kind(args.world)[1]:
        return guidance_model_main(args, argv)
    world = check_world(args.world)
    if world.name not in REPORTS:
        raise ValueError(f"world={world.name!r} has no evaluation table; allowed: {', '.join(REPORTS)}")
    args.guidance = None if args.guidance is None else [GUIDANCE.parse(g) for g in args.guidance]
    args.steps, args.sampler, args.eta = STEPS.parse(args.steps), SAMPLER.parse(args.sampler), ETA.parse(args.eta)
    args.seed, args.n_per_class = SEED.parse(args.seed), N_PER_CLASS.parse(args.n_per_class)
    args.n = world.sizes.default_n if args.n is None else n_param(world).parse(args.n)
    args.cache = None if args.cache is None else SampleCache(args.cache)  # refused before any loading
    sampler = GuidedSampler.load(world, args.checkpoint)
    sampler.spacing = spacing_of(args)
    if args.exact is not None:
        if args.update_card:
            raise ValueError("--exact evaluates no checkpoint, so there is no card to update; use --markdown")
        args.exact = EXACT.parse(args.exact)
        sampler = sampler.exact(args.exact, args.seed)
    cmd = command(argv)
    if args.grids:
        if args.exact is not None or args.vs_exact is not None:
            raise ValueError("--grids draws the checkpoint's own samples: use it without --exact and --vs-exact")
        pictures = GRIDS[world.name](sampler, Path(sampler.checkpoint.path), args.steps, args.sampler, args.seed,
                                     args.n)
        update_card(sampler.checkpoint.path, grids.card_markdown(pictures, args.steps, args.sampler, args.seed),
                    "grids")
        print("\n".join(f"{sampler.checkpoint.path}/{name}: {text}" for name, text in pictures))
        return 0
    section = "evaluation"
    args.method_params = method_params_of(args)
    if args.method_params and args.methods is None:
        raise ValueError("method parameters (--phi, ...) go with --methods")
    if args.methods is not None:
        if args.samplers is not None or args.vs_exact is not None:
            raise ValueError("--methods is its own table: use it without --samplers and --vs-exact")
        args.methods = list(dict.fromkeys(METHOD.parse(v) for v in args.methods))
        judge = JUDGES[world.name](args)
        rows, table, note = methods_report.methods_report(sampler, judge, args)
        picture = methods_report.methods_plot(rows, judge, f"{world.title}: guidance methods, {args.steps} "
                                                           f"{args.sampler} steps")
        note += save_plot(picture, args, sampler, "methods.png", "guidance methods: the frontier")
        section = "methods"
    elif args.samplers is not None:
        if args.vs_exact is not None:
            raise ValueError("--samplers and --vs-exact are two tables: run them one at a time")
        args.samplers = list(dict.fromkeys(SAMPLER.parse(v) for v in args.samplers))
        args.calls = [STEPS.parse(v) for v in args.calls or samplers_report.CALLS]
        judge = JUDGES[world.name](args)
        rows, table, note = samplers_report.samplers_report(sampler, judge, args)
        picture = samplers_report.samplers_plot(rows, judge.names)
        note += save_plot(picture, args, sampler, "samplers.png", "quality per network call")
        section = "samplers"
    elif args.vs_exact is not None:
        if args.exact is not None:
            raise ValueError("--vs-exact compares the network with the exact denoiser: use it without --exact")
        args.vs_exact = EXACT.parse(args.vs_exact)
        rows, table, note = VS_EXACT[world.name](sampler, sampler.exact(args.vs_exact, args.seed), args)
        section = "vs-exact"
    else:
        rows, table, note = REPORTS[world.name](sampler, args)
    title = {"vs-exact": "The network beside the exact denoiser",
             "samplers": "Quality per network call",
             "methods": "Guidance methods side by side"}.get(section, "Evaluation")
    head, sep, picture = note.partition("\n\n![")  # the spacing belongs to the text, before a plot's link
    note = f"{head} Timestep spacing: {sampler.spacing or world.spacing_text} (`--spacing`).{sep}{picture}"
    if args.cache is not None:
        print(f"cache {args.cache.folder}: {args.cache.hits} chunks reused, {args.cache.misses} sampled",
              file=sys.stderr)
    return emit(rows, table, note, args, cmd, [sampler.checkpoint.path], title, section)


def emit(rows, table: str, note: str, args, cmd: str, folders, title: str, section: str = "evaluation") -> int:
    """Print a table and its note; write --json and --markdown; with --update-card put it into the
    cards of `folders` under `title`."""
    print(table)
    print(note)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).write_text(table + "\n\n" + note + "\n")
    if args.update_card:
        for folder in folders:
            update_card(folder, f"## {title}\n\n`{cmd}`\n\n{table}\n\n{note}", section)
    return 0


def guidance_model_main(args, argv) -> int:
    """WORLD-classifier: accuracy per noise level; WORLD-weak: the weak model chosen by measurement."""
    name, role = split_kind(args.world)
    world = check_world(name)
    args.seed, args.n_per_class = SEED.parse(args.seed), N_PER_CLASS.parse(args.n_per_class)
    cmd = command(argv)
    if role == CLASSIFIER:
        ck = load_role_checkpoint(world.name, CLASSIFIER, args.checkpoint)
        exact = None if args.exact is None else EXACT.parse(args.exact)
        rows, table, note = classifier_report(world, ck, args.n_per_class, args.seed, exact)
        folders, title = [ck.path], "Accuracy per noise level"
    else:
        args.steps, args.sampler = STEPS.parse(args.steps), SAMPLER.parse(args.sampler)
        args.spacing = spacing_of(args) or world.spacing_for(args.sampler)  # as the app's runs, unless --spacing says
        args.guidance = [GUIDANCE.parse(g) for g in args.guidance or [1.5, 2, 3]]
        args.cfg_guidance = [GUIDANCE.parse(g) for g in ([1, 2, 3, 5] if args.cfg_guidance is None else args.cfg_guidance)]
        strong = load_checkpoint(args.checkpoint or world.checkpoint_dir, world.name)
        prepare(strong.model)
        cands = {str(f): load_role_checkpoint(world.name, WEAK, f) for f in args.candidates or [world.weak_dir]}
        for c in cands.values():
            if (c.config.schedule, c.config.timesteps, c.config.labels) != \
                    (strong.config.schedule, strong.config.timesteps, strong.config.labels):
                raise ValueError(f"{c.path}: schedule, T or labels differ from the strong model {strong.path}")
        previous = [r for f in args.reuse or [] for r in json.loads(Path(f).read_text())]

        def save_rows(rows):  # as they come: a slow run stopped half way keeps what it measured
            if args.json:
                Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
        rows, table, note, chosen = autoguidance_report(
            strong, {k: prepare(c.model) for k, c in cands.items()}, args, previous, save_rows)
        table = candidates_table(cands) + "\n\n" + table
        folders, title = [c.path for c in cands.values()], "How this weak model was chosen"
    return emit(rows, table, note, args, cmd, folders, title)


def candidates_table(cands: dict) -> str:
    """What each candidate weak model is: its network, size and training length."""
    lines = ["| candidate | network | parameters | trained steps | command |", "|---|---|---|---|---|"]
    for name, c in cands.items():
        tc = c.history.get("train_config", {})
        net = f"{type(c.model).__name__}({', '.join(f'{k}={v}' for k, v in tc.get('model', {}).items())})"
        lines.append(f"| {name} | `{net}` | {sum(p.numel() for p in c.model.parameters()):,} | "
                     f"{c.history.get('step', '?')} of {tc.get('steps', '?')} | `{tc.get('command', '')}` |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(run(main))
