"""Handlers of the app's "Train" tab: live training (one job per server, with a time limit),
the trained model's download, and uploads of checkpoints (JSON + safetensors only, validated).

`TrainHandlers(engine, jobs)` is built once by app.py. Trained and uploaded models are registered
with the engine under a new, unique name, so the other tabs can pick them ("model: shipped / my
points model #1 / ..."). Jobs, uploads and these models belong to the browser session that made
them (`sessions.session_id`): only it can stop its job or see and use its models, and `forget`
frees them when the session ends. Uploaded files are deleted as soon as they are read.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from ..core.checks import invalid
from ..drawing.classes import panels_png
from ..drawing.pictures import caption, save_png
from ..drawing.plots import loss_png
from ..hub.upload import MAX_ZIP_TOTAL, MB, load_uploaded, zip_checkpoint
from ..training.job_spec import JOB_LIMIT, LiveSpec
from ..inputs import Param
from ..training.jobs import STAGES, JobManager, JobSnapshot
from ..training.stages import run_labels, stage_samples
from ..worlds import get_world, world_names
from ..worlds.points_drawn import distance
from ..worlds.points import POINTS
from .engine import Engine
from .handlers import user_errors
from .models import DRAWING
from .sessions import session_id
from .storage import OUT, cap

POLL = 1.0  # seconds between UI updates while a job runs
MAX_UPLOAD = MAX_ZIP_TOTAL + MB  # bytes per uploaded file: a zip of the largest checkpoint fits
STAGE = Param("stage", int, 0, STAGES - 1, help="training stage (EMA snapshot)")
STAGE_GUIDANCE, STAGE_N = 2.0, 600  # the stage pictures' guided samples: every class in turn


def datasets_of(world) -> list[str]:
    """The Train tab's data choices: the world's datasets, and in 2D the session's drawing."""
    w = get_world(world)
    return [*w.labels, *([DRAWING] if w.has_field else [])]


def dataset_choices(world):
    return gr.update(choices=datasets_of(world), value=list(get_world(world).labels))


def loss_plot(snap: JobSnapshot):
    return loss_png(snap.loss, snap.val_loss, title=f"job {snap.id}: {snap.world}, step {snap.step}")


def preview_image(snap: JobSnapshot):
    if snap.preview is None:
        return None
    world = get_world(snap.world)
    return caption(world.panel(world.display(snap.preview)), f"preview at step {snap.preview_step}")


def status_text(snap: JobSnapshot) -> str:
    loss = f", loss {snap.loss[-1][1]:.4f}" if snap.loss else ""
    val = f", held-out loss {snap.val_loss[-1][1]:.4f}" if snap.val_loss else ""
    text = {"running": "Training", "done": "Done", "stopped": "Stopped", "failed": "Failed"}[snap.state]
    out = (f"**{text}**: step {snap.step} of at most {snap.max_steps}, {snap.elapsed:.0f} s of "
           f"{snap.max_seconds:.0f} s{loss}{val}.")
    if snap.error:
        out += f" Error: {snap.error}"
    return out


def upload_paths(files) -> list[str]:
    """A gr.File value (paths, file objects, or Gradio's raw file data; one or a list) as a list of paths."""
    files = files if isinstance(files, list) else [files] if files else []
    return [f["path"] if isinstance(f, dict) else f if isinstance(f, str) else getattr(f, "name", str(f))
            for f in files]


def remove_uploaded(paths) -> None:
    """Delete uploaded files, and each one's folder once empty (Gradio gives every upload a folder
    of its own). Only files in Gradio's upload folder are touched."""
    cache = Path(get_upload_folder()).resolve()
    for old in paths:
        path = Path(old).resolve()
        if cache in path.parents:
            path.unlink(missing_ok=True)
            if path.parent != cache and path.parent.is_dir() and not any(path.parent.iterdir()):
                path.parent.rmdir()


def training_curve(history: dict | None) -> tuple[dict, str]:
    """The history whose loss curve to draw and its step count in words. A joined checkpoint
    (`python -m diffusion.join`) holds one history per branch: the longer run is drawn."""
    h = history or {}
    branches = h.get("branches")
    if not (isinstance(branches, dict) and branches):
        return h, f"{h.get('step', '?')} steps"
    steps = {name: b.get("step", 0) for name, b in branches.items()}
    name = max(steps, key=steps.get)
    others = ", ".join(f"{n} branch {v:,}" for n, v in steps.items() if n != name)
    return branches[name], f"{name} branch, {steps[name]:,} steps ({others})"


class TrainHandlers:
    """The Train tab over the app's engine (where trained models are registered) and job manager."""

    def __init__(self, engine: Engine, jobs: JobManager, uploads: str | Path | None = None):
        self.engine, self.jobs = engine, jobs
        self.uploads = Path(uploads or tempfile.gettempdir()) / "gde-uploads"  # accepted checkpoints' folders
        self._owners: dict[int, str] = {}  # job id -> session

    def model_updates(self, world, value: str | None = None):
        """New choices for a world's model pickers."""
        choices = self.engine.models.names(world)
        return gr.update(choices=choices, value=value) if value else gr.update(choices=choices)

    def _pickers(self, world: str, name: str) -> list:
        """Updates for every world's model picker, the new model selected in its own world's."""
        return [self.model_updates(w, name if w == world else None) for w in world_names()]

    def train(self, world, datasets, width, size, seconds, lr, p_uncond, seed, progress=gr.Progress()):
        """Start a job and stream its loss curve, preview and status until it ends. Yields
        (loss plot, preview, status, zip download, one model picker per world)."""
        w = get_world(world)
        drawing = self.drawing_for(w, datasets)
        spec = LiveSpec(w.name, labels=None if drawing else list(datasets or []) or None,
                        width=width if isinstance(w.live["size"], int) else size, lr=lr,
                        p_uncond=p_uncond, max_seconds=seconds, seed=seed, data=drawing)
        job = self.jobs.start(spec)  # Busy (another user's job) and bad values become gr.Error
        self._owners[job.id] = session_id()
        skip = [gr.skip()] * (1 + len(world_names()))
        while True:
            snap = job.wait(POLL)
            progress(min(1.0, snap.elapsed / snap.max_seconds), desc=f"step {snap.step}")
            if not snap.finished or snap.state == "failed" or snap.checkpoint is None:
                yield loss_plot(snap), preview_image(snap), status_text(snap), *skip
                if not snap.finished:
                    continue
                return
            name = self.engine.models.register(w, f"my {w.name} model #{snap.id}", snap.checkpoint)
            self.engine.models.get(w, name).data = drawing  # measured against it, its exact twin found
            note = f" Registered as **{name}**: pick it in the {w.title} and comparison tabs, or download it below."
            yield (loss_plot(snap), preview_image(snap), status_text(snap) + note,
                   str(zip_checkpoint(snap.folder)), *self._pickers(w.name, name))
            return

    def drawing_for(self, w, datasets):
        """The session's latest drawing if the data chosen is "my drawing" (then alone), else None."""
        if not isinstance(datasets, list) or DRAWING not in datasets:
            return None
        mine = self.engine.models.latest_drawing(w) if w.has_field else None
        if len(datasets) > 1 or mine is None:
            raise invalid("labels", datasets, f"'{DRAWING}' alone, once you have drawn classes in the 2D tab and "
                                              "pressed Use drawing; or the world's datasets")
        return mine[1]

    def stages(self):
        """After a job on a drawing: one picture per EMA snapshot, the network's guided samples beside
        the exact denoiser's (same noise). Returns (last picture, the stage slider, the pictures' paths);
        skips when this session has no such job."""
        job = self.jobs.current()
        if job is None or self._owners.get(job.id) != session_id() or job.running or job.spec.data is None:
            return gr.skip(), gr.skip(), gr.skip()
        snap = job.snapshot()
        if snap.checkpoint is None or not snap.stages:
            return gr.skip(), gr.skip(), gr.skip()
        d, guidance = job.spec.data, STAGE_GUIDANCE
        exact = self.engine.models.get(POINTS).drawn(d)
        ex, y = run_labels(exact, STAGE_N, guidance, POINTS.sampling["steps"], 0)
        paths = []
        OUT.mkdir(parents=True, exist_ok=True)
        for k, (step, x, _) in enumerate(stage_samples(snap.checkpoint, snap.stages, guidance, STAGE_N)):
            img = panels_png([(x, y, f"network, stage {k + 1} of {len(snap.stages)}: step {step}, "
                                    f"distance {distance(x, d.points):.3f}"),
                              (ex, y, f"exact denoiser, distance {distance(ex, d.points):.3f}")], d.names)
            paths.append(str(OUT / f"stages_job{job.id}_{k}.png"))
            save_png(img, paths[-1])
        cap()
        return paths[-1], gr.update(maximum=len(paths) - 1, value=len(paths) - 1, interactive=True), paths

    def stage_at(self, paths, index):
        """The picture of stage `index` (the slider); skips before any job on a drawing."""
        index = STAGE.check(index)
        if not isinstance(paths, list) or not paths:
            return gr.skip()
        return paths[Param("stage", int, 0, len(paths) - 1).check(index)]

    def shipped_loss(self, world):
        """The training curve of the world's shipped model: what a visitor sees before training."""
        h, steps = training_curve(self.engine.models.get(world).checkpoint.history)
        return loss_png(h.get("loss", []), h.get("val_loss", []),
                        title=f"the shipped {get_world(world).title} model: {steps}")

    def _own_job(self, session: str):
        job = self.jobs.current()
        return job if job is not None and job.running and self._owners.get(job.id) == session else None

    def stop(self):
        """Stop this session's running job (another session's job is not touched)."""
        job = self._own_job(session_id())
        if job is None:
            return "No training job of yours is running."
        job.stop()
        return "Stopping: the model trained so far is being saved..."

    def replace_upload(self, files, previous):
        """When new files replace an upload (or it is cleared), remove the previous upload's files
        from the server: Gradio keeps every uploaded file otherwise. Returns the current upload's
        paths, for the next replacement. Only files in Gradio's upload folder are touched."""
        now = upload_paths(files)
        remove_uploaded(set(previous or []) - set(now))
        return now

    def use_upload(self, files):
        """Validate an uploaded checkpoint (files or one .zip) and register it for its world and
        this session. The uploaded files are deleted, accepted or not."""
        paths = upload_paths(files)
        try:
            self.uploads.mkdir(parents=True, exist_ok=True)
            ck = load_uploaded(paths, root=self.uploads)
        finally:
            remove_uploaded(paths)
        world = ck.config.world
        name = f"uploaded {world} model #{self.engine.models.new_id()}"
        try:
            self.engine.models.register(world, name, ck, folder=ck.path.parent if ck.path else None)
        except ValueError:
            if ck.path is not None:
                shutil.rmtree(ck.path.parent, ignore_errors=True)
            raise
        return (f"Accepted: a {world} model ({ck.config.architecture}, labels {', '.join(ck.config.labels)}). "
                f"Registered as **{name}**."), *self._pickers(world, name)

    def forget(self):
        """The session ended: stop its job and drop its models and uploads."""
        session = session_id()
        job = self._own_job(session)
        if job is not None:
            job.stop()
        self.engine.models.drop(session)


for _name in ("train", "use_upload", "stages", "stage_at"):
    setattr(TrainHandlers, _name, user_errors(getattr(TrainHandlers, _name)))


def limits_text() -> str:
    return (f"One training job at a time per server, at most {JOB_LIMIT // 60} minutes. Defaults: "
            + ", ".join(f"{w.title} {w.live['max_seconds']} s" for w in map(get_world, world_names()))
            + ". Small models train fast but draw roughly: the shipped MNIST model trained for hours.")
