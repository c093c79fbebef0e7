"""Model cards (the README.md of a checkpoint folder): what was trained, how, and how well."""
from __future__ import annotations

import re
from pathlib import Path

# The card's measured parts, in this order: each is rewritten by the command that measures it.
SECTIONS = ("evaluation", "vs-exact", "samplers", "methods", "grids")


def _markers(section: str) -> tuple[str, str]:
    return f"<!-- {section}:begin -->", f"<!-- {section}:end -->"


EVAL_BEGIN, EVAL_END = _markers("evaluation")

LENET_TITLE = "LeNet-5 style MNIST classifier"
FRONT_MATTER = ["---", "library_name: pytorch", "license: mit",
                "tags: [diffusion, classifier-free-guidance, ddpm, guided-diffusion-explorer]", "---"]


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def diffusion_rows(task, c) -> list[str]:
    """The model-card rows of a denoiser: labels, schedule, label dropout, loss."""
    return [f"| labels | {', '.join(task.labels)} + `random` (the empty-set label) |",
            f"| noise schedule | {c.schedule}, T = {c.timesteps}, predicts eps |",
            f"| label dropout p_uncond | {c.p_uncond} |",
            f"| loss | MSE on eps{f', Min-SNR-{c.min_snr_gamma:g} weighting' if c.min_snr_gamma else ''}"
            f"{f', Stable Target Field targets over {c.stf_reference:,} reference examples' if c.stf_reference else ''}"
            f"{f', t in [{c.t_band[0]:g}, {c.t_band[1]:g}) drawn {c.t_band[2]:g}x as often as the rest' if c.t_band else ''} |"]


def training_card(task, trainer) -> str:
    """The card of a freshly trained model. The task may give `title` (the heading), `card_rows(config)`
    (its own table rows; default: a denoiser's) and `card_intro` (a paragraph under the heading)."""
    c, h = trainer.config, trainer.history
    loss = h["loss"][-1][1] if h["loss"] else float("nan")
    val = h["val_loss"][-1][1] if h["val_loss"] else float("nan")
    title = getattr(task, "title", None) or (
        LENET_TITLE if c.kind == "lenet" else f"{task.world.title}: class-conditioned denoiser")
    rows = task.card_rows(c) if hasattr(task, "card_rows") else ([] if c.kind == "lenet" else diffusion_rows(task, c))
    intro = getattr(task, "card_intro", "")
    lines = [
        *FRONT_MATTER, "",
        f"# {title}", "", *([intro, ""] if intro else []),
        "Trained from scratch on a 2-core CPU by this project's own code "
        f"(`{c.command or 'python -m diffusion.train ' + c.kind}`). Weights are the EMA weights.", "",
        "| | |", "|---|---|",
        f"| architecture | `{type(trainer.model).__name__}({', '.join(f'{k}={v}' for k, v in c.model.items())})` |",
        f"| parameters | {_params(trainer.model):,} |",
        *rows,
        f"| optimiser | AdamW, lr {c.lr}, warm-up {c.warmup} steps, cosine decay; EMA {c.ema_decay} |",
        f"| training | {trainer.step:,} steps of batch {c.batch_size} ({h['samples_seen']:,} samples), "
        f"{h['seconds'] / 3600:.2f} h wall clock, seed {c.seed} |",
        *_runs_row(h.get("runs", [])),
        f"| final loss (train, running / validation) | {loss:.4f} / {val:.4f} |", "",
        "Loss history: `history.json`. Configuration: `config.json` (network), "
        + ("`diffusion.json` (world, labels, schedule)." if c.kind != "lenet" else "no diffusion."), "",
        EVAL_BEGIN, "(not evaluated yet: run `python -m diffusion.evaluate " + c.kind + " --update-card`)",
        EVAL_END, ""]
    return "\n".join(lines)


def _runs_row(runs: list[dict]) -> list[str]:
    """The card's row for a model trained over several runs (resumed after an interruption, or
    continued with other settings): each run's command, seed, steps and hours. One run needs no row."""
    runs = [r for r in runs if r["to_step"] > r["from_step"]]
    if len(runs) < 2:
        return []
    parts = [f"{i}. `{r['command'] or '(not recorded)'}`, seed {r['seed']}: steps {r['from_step']:,}-{r['to_step']:,}, "
             f"{r['seconds'] / 3600:.2f} h" for i, r in enumerate(runs, 1)]
    return [f"| runs | {'<br>'.join(parts)} |"]


def update_card(folder: str | Path, markdown: str, section: str = "evaluation") -> None:
    """Replace one measured section of folder/README.md (keeps the training part and the other
    sections); a new section goes after the sections that come before it in SECTIONS."""
    if section not in SECTIONS:
        raise ValueError(f"section={section!r} is not allowed; allowed: {', '.join(SECTIONS)}")
    path = Path(folder) / "README.md"
    text = path.read_text()
    begin, end = _markers(section)
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        later = [m for m in (_markers(s)[0] for s in SECTIONS[SECTIONS.index(section) + 1:]) if m in text]
        if later:
            at = min(text.index(m) for m in later)
            text = text[:at] + block + "\n\n" + text[at:]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)
