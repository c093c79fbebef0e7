"""Handlers of the app's "Train" tab: live training (one job per server, with a time limit),
the trained model's download, and uploads of checkpoints (JSON + safetensors only, validated).

Trained and uploaded models are registered with the engine under a new name, so the other tabs
can pick them ("model: shipped / my points model #1 / ...").
"""
from __future__ import annotations

import time

import gradio as gr
import numpy as np

from .handlers import ENGINE, user_errors
from .labels import WORLD_LABELS
from .live import JobManager, JobSnapshot
from .live_spec import DEFAULTS, JOB_LIMIT, LiveSpec
from .upload import zip_checkpoint

JOBS = JobManager(threads=1)  # one core trains, the other keeps sampling responsive
POLL = 1.0  # seconds between UI updates while a job runs


def dataset_choices(world: str):
    choices = list(WORLD_LABELS[world])
    return gr.update(choices=choices, value=choices)


def loss_plot(snap: JobSnapshot):
    from .render import loss_png
    return loss_png(snap.loss, snap.val_loss, title=f"job {snap.id}: {snap.world}, step {snap.step}")


def preview_image(snap: JobSnapshot):
    if snap.preview is None:
        return None
    from . import media
    if snap.world == "points":
        return media.caption(media.points_panel(snap.preview, 300), f"preview at step {snap.preview_step}")
    digits = (snap.preview * 255).round().astype(np.uint8)
    return media.caption(media.digits_panel(digits, 3), f"preview at step {snap.preview_step}")


def status_text(snap: JobSnapshot) -> str:
    loss = f", loss {snap.loss[-1][1]:.4f}" if snap.loss else ""
    val = f", held-out loss {snap.val_loss[-1][1]:.4f}" if snap.val_loss else ""
    text = {"running": "Training", "done": "Done", "stopped": "Stopped", "failed": "Failed"}[snap.state]
    out = (f"**{text}**: step {snap.step} of at most {snap.max_steps}, {snap.elapsed:.0f} s of "
           f"{snap.max_seconds:.0f} s{loss}{val}.")
    if snap.error:
        out += f" Error: {snap.error}"
    return out


def model_updates(world: str, value: str | None = None):
    """New choices for the model pickers of the world's tab and of the comparison tab."""
    choices = ENGINE.models.names(world)
    return gr.update(choices=choices, value=value) if value else gr.update(choices=choices)


@user_errors
def train(world, datasets, width, size, seconds, lr, p_uncond, seed, progress=gr.Progress()):
    """Start a job and stream its loss curve, preview and status until it ends. Yields
    (loss plot, preview, status, zip download, points model picker, digits model picker)."""
    spec = LiveSpec(world, labels=list(datasets or []) or None,
                    width=int(width) if world == "points" else size, lr=float(lr),
                    p_uncond=float(p_uncond), max_seconds=float(seconds), seed=int(seed))
    job = JOBS.start(spec)  # Busy (another user's job) and bad values become gr.Error
    skip = gr.skip()
    while True:
        snap = job.wait(POLL)
        progress(min(1.0, snap.elapsed / snap.max_seconds), desc=f"step {snap.step}")
        if not snap.finished:
            yield loss_plot(snap), preview_image(snap), status_text(snap), skip, skip, skip
            continue
        if snap.state == "failed" or snap.checkpoint is None:
            yield loss_plot(snap), preview_image(snap), status_text(snap), skip, skip, skip
            return
        name = ENGINE.models.register(world, f"my {world} model #{snap.id}", snap.checkpoint)
        zipped = str(zip_checkpoint(snap.folder))
        note = (f" Registered as **{name}**: pick it in the {'2D points' if world == 'points' else 'MNIST digits'}"
                " and comparison tabs, or download it below.")
        picks = [model_updates("points", name if world == "points" else None),
                 model_updates("mnist", name if world == "mnist" else None)]
        yield loss_plot(snap), preview_image(snap), status_text(snap) + note, zipped, *picks
        return


def stop():
    job = JOBS.current()
    if job is None or not job.running:
        return "No training job is running."
    job.stop()
    return "Stopping: the model trained so far is being saved..."


@user_errors
def use_upload(files):
    """Validate an uploaded checkpoint (files or one .zip) and register it for its world."""
    from .upload import load_uploaded
    paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in (files or [])]
    ck = load_uploaded(paths)
    world = ck.config.world
    name = ENGINE.models.register(world, f"uploaded {world} model #{int(time.time()) % 100000}", ck)
    picks = [model_updates("points", name if world == "points" else None),
             model_updates("mnist", name if world == "mnist" else None)]
    return (f"Accepted: a {world} model ({ck.config.architecture}, labels {', '.join(ck.config.labels)}). "
            f"Registered as **{name}**."), *picks


def limits_text() -> str:
    p, m = DEFAULTS["points"], DEFAULTS["mnist"]
    return (f"One training job at a time per server, at most {JOB_LIMIT // 60} minutes. Defaults: 2D "
            f"{p['max_seconds']} s (good enough to draw all three patterns), MNIST {m['max_seconds']} s "
            "with a tiny U-Net: expect rough, blurry digits; the shipped model trained for about an hour.")
