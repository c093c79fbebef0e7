"""Join two trained MNIST U-Nets into one checkpoint for classifier-free guidance's two branches:
`python -m diffusion.join --cond DIR --uncond DIR --out DIR`

The rows of a digit's label go to --cond, the empty label's ("random") to --uncond (`models.branches`).
Both must be U-Nets of one world, its labels and its noise schedule. The card keeps each branch's own
training record (command, steps, hours, loss) under its heading; the joined history holds both histories.
"""
from __future__ import annotations

import dataclasses
import re

from .inputs import Parser, run
from .models.branches import BranchUNets
from .models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .hub.card import EVAL_BEGIN, EVAL_END, FRONT_MATTER
from .hub.upload import JOINED
from .worlds import get_world

BRANCH_ARCHITECTURE = JOINED[BranchUNets.__name__][0]  # one source with what an upload accepts
INTRO = ("Classifier-free guidance's two branches as two U-Nets, joined by `python -m diffusion.join`: the rows of "
         "a digit's label go to the conditional U-Net, the empty label's to the unconditional one, so each branch "
         "has its own weights while a guided step is still one call with both in one batch, and a row costs one "
         "U-Net. One network trained with label dropout serves both and they compete for its weights (measured on "
         "MNIST: dropout 0.8 made the unconditional digits good and held the conditional ones back).")


def branch_section(heading: str, card: str) -> str:
    """A branch's training record: its card up to its evaluation (the tables after it measured that network
    alone, not the pair), without front matter and title, its headings one level down."""
    body = re.sub(r"\A---\n.*?\n---\n", "", card, flags=re.S).split(EVAL_BEGIN)[0]
    body = re.sub(r"^# .*\n", "", body, count=1, flags=re.M)
    return f"## {heading}\n\n" + re.sub(r"^(#+) ", r"\1## ", body.strip(), flags=re.M)


def check_pair(cond: Checkpoint, uncond: Checkpoint) -> None:
    for name, ck in (("cond", cond), ("uncond", uncond)):
        if ck.config.architecture != BRANCH_ARCHITECTURE:
            raise ValueError(f"--{name} architecture={ck.config.architecture!r} is not allowed; allowed: "
                             f"{BRANCH_ARCHITECTURE}")
    for key in ("world", "labels", "schedule", "timesteps"):
        a, b = getattr(cond.config, key), getattr(uncond.config, key)
        if a != b:
            raise ValueError(f"--uncond {key}={b!r} is not allowed; allowed: --cond's {a!r}")


def join(cond_dir, uncond_dir, out) -> Checkpoint:
    """Load both U-Nets, join them and save the pair (config, weights, diffusion.json, history, card) at `out`."""
    cond, uncond = load_checkpoint(cond_dir), load_checkpoint(uncond_dir)
    check_pair(cond, uncond)
    model = BranchUNets.join(cond.model, uncond.model)
    config = dataclasses.replace(uncond.config, architecture="BranchUNets")  # p_uncond: the empty label's run
    history = {"branches": {"cond": cond.history, "uncond": uncond.history}}
    cards = [(ck.path / "README.md").read_text() if (ck.path / "README.md").is_file() else
             f"(`{ck.path}` has no training card)" for ck in (cond, uncond)]
    card = "\n\n".join([
        "\n".join(FRONT_MATTER), f"# {get_world(cond.config.world).title}: class-conditioned denoiser, one U-Net per branch",
        INTRO, f"Joined from `{cond_dir}` (conditional) and `{uncond_dir}` (unconditional).",
        branch_section("Conditional branch (the digits' rows)", cards[0]),
        branch_section("Unconditional branch (the empty label's rows)", cards[1]),
        f"{EVAL_BEGIN}\n(not evaluated yet: run `python -m diffusion.evaluate {cond.config.world} --update-card`)\n{EVAL_END}\n"])
    path = save_checkpoint(out, model, config, history, card)
    return Checkpoint(model, config, history, path)


def main(argv: list[str] | None = None) -> int:
    ap = Parser(prog="python -m diffusion.join", description=__doc__.splitlines()[0])
    ap.add_argument("--cond", required=True, metavar="DIR", help="the U-Net for the digits' rows")
    ap.add_argument("--uncond", required=True, metavar="DIR", help="the U-Net for the empty label's rows")
    ap.add_argument("--out", required=True, metavar="DIR", help="where the joined checkpoint goes")
    args = ap.parse_args(argv)
    ck = join(args.cond, args.uncond, args.out)
    print(f"saved {ck.path}: BranchUNets, {sum(p.numel() for p in ck.model.parameters()):,} parameters")
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
