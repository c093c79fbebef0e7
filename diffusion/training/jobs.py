"""Live training jobs for the app's "Train" tab: at most one job per manager, in a daemon thread.

    >>> jobs = JobManager()                         # one per process (the app keeps one)
    >>> job = jobs.start(LiveSpec(POINTS.name, labels=["spiral", "moons"], max_seconds=30))
    >>> snap = job.snapshot()                       # poll it: an immutable JobSnapshot
    >>> snap.state, snap.step, snap.loss[-1], snap.preview.shape  # "running", 812, (800, 0.41), (500, 2)
    >>> job.stop()                                  # or let it run out of time or steps
    >>> snap = job.wait(); snap.checkpoint, snap.folder, zip_checkpoint(snap.folder)

States: "running" -> "done" (time or step budget used up) | "stopped" (job.stop()) | "failed"
(snap.error says why). "done" and "stopped" both save the EMA model trained so far: snap.checkpoint
is a loaded `Checkpoint`, snap.folder its folder (a fresh temp folder under the manager's root).
The time budget counts from start(), set-up included (MNIST's first load takes a few seconds).
`JobManager.start` raises `Busy` (a ValueError) while a job runs, and ValueError for a bad spec.
"""
from __future__ import annotations

import dataclasses
import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from ..core.checks import first_line
from ..core.sampling import sample
from ..models.checkpoint import Checkpoint, load_checkpoint
from ..worlds import get_world
from .job_spec import LiveSpec, make_live_task
from .trainer import Trainer

EVAL_EVERY = 1.0  # seconds between points of the live loss curve (at least one step apart)
PREVIEW_EVERY = 4.0  # seconds between preview samples (DDIM, guidance 2, the world's `preview` size)
STAGES = 10  # EMA snapshots kept through a job: at each tenth of its time budget, the last at its end


class Busy(ValueError):
    """A job is already running; the message says since when and until when at the latest."""


@dataclass(frozen=True)
class JobSnapshot:
    id: int
    world: str
    state: str  # running, done, stopped or failed
    step: int
    max_steps: int
    elapsed: float  # seconds since the job started
    max_seconds: float
    started: float  # wall-clock time.time()
    deadline: float  # wall-clock time by which training stops at the latest
    loss: tuple[tuple[int, float], ...] = ()  # (step, running training loss)
    val_loss: tuple[tuple[int, float], ...] = ()  # (step, EMA model's held-out loss)
    preview: np.ndarray | None = None  # read-only; points (n, 2) in [-1, 1], digits (n, 28, 28) in [0, 1]
    preview_labels: tuple[str, ...] = ()  # one label name per preview row
    preview_step: int = 0
    error: str | None = None
    checkpoint: Checkpoint | None = None  # once "done" or "stopped"
    folder: Path | None = None
    # (step, the EMA model's state dict) at each tenth of the time budget and at the end
    stages: tuple[tuple[int, dict], ...] = ()

    @property
    def finished(self) -> bool:
        return self.state != "running"


def _utc(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%H:%M:%S UTC")


class Job:
    """One training run in a daemon thread; read it with snapshot(), end it early with stop()."""

    def __init__(self, job_id: int, spec: LiveSpec, folder: Path, threads: int, active: "_Counter"):
        self.id, self.spec, self.folder, self.threads, self._active = job_id, spec, folder, threads, active
        self.started, self._t0 = time.time(), time.monotonic()
        self.deadline = self.started + spec.max_seconds
        self._lock, self._stop, self._done = threading.Lock(), threading.Event(), threading.Event()
        self._snap = JobSnapshot(job_id, spec.world, "running", 0, spec.steps, 0.0, spec.max_seconds,
                                 self.started, self.deadline)
        self._end: float | None = None
        self._last_eval = self._last_preview = -1e9
        self._thread = threading.Thread(target=self._run, name=f"live-train-{job_id}", daemon=True)

    def start(self) -> "Job":
        self._thread.start()
        return self

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = time.monotonic() if self._end is None else self._end
            return dataclasses.replace(self._snap, elapsed=end - self._t0)

    def stop(self) -> None:
        """End training after the current step; the model trained so far is saved ("stopped")."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> JobSnapshot:
        self._done.wait(timeout)
        return self.snapshot()

    @property
    def running(self) -> bool:
        return self._snap.state == "running"

    def _update(self, **changes) -> None:
        with self._lock:
            self._snap = dataclasses.replace(self._snap, **changes)

    # -- the training thread -------------------------------------------------------------------
    def _run(self) -> None:
        with self._active:
            self._train()

    def _train(self) -> None:
        try:
            # Trainer sets torch's thread count; with the OpenMP backend that is per thread, so it
            # limits this training thread and leaves the server's threads as they were.
            config = self.spec.train_config()
            config.threads = self.threads
            trainer = Trainer(make_live_task(self.spec, config), config)
            self._last_eval = time.monotonic()
            trainer.run(should_stop=self._should_stop, on_eval=self._on_eval, eval_due=self._eval_due,
                        progress=False)
            if self._snap.preview_step != trainer.step:
                self._preview(trainer)  # the preview always shows the final model
            trainer.save(self.folder)
            self._stage(trainer)
            final = dict(state="stopped" if self._stop.is_set() else "done", step=trainer.step,
                         checkpoint=load_checkpoint(self.folder, self.spec.world), folder=self.folder)
        except Exception as e:  # reported in the snapshot; the server log gets the traceback
            logging.getLogger(__name__).exception("live training job %d failed", self.id)
            final = dict(state="failed", error=f"{type(e).__name__}: {first_line(e)}")
        with self._lock:  # the end time and the final state change together
            self._end = time.monotonic()
            self._snap = dataclasses.replace(self._snap, **final)
        self._done.set()

    def _should_stop(self) -> bool:
        return self._stop.is_set() or time.monotonic() - self._t0 >= self.spec.max_seconds

    def _eval_due(self) -> bool:
        """A live curve wants a point every EVAL_EVERY seconds, whatever a step costs."""
        return time.monotonic() - self._last_eval >= EVAL_EVERY

    def _on_eval(self, trainer: Trainer) -> None:
        self._last_eval = time.monotonic()
        h = trainer.history
        self._update(step=trainer.step, loss=tuple((int(s), float(v)) for s, v in h["loss"]),
                     val_loss=tuple((int(s), float(v)) for s, v in h["val_loss"]))
        if self._last_eval - self._last_preview >= PREVIEW_EVERY:
            self._preview(trainer)
        if self._last_eval - self._t0 >= (len(self._snap.stages) + 1) * self.spec.max_seconds / STAGES and \
                len(self._snap.stages) < STAGES - 1:
            self._stage(trainer)

    def _stage(self, trainer: Trainer) -> None:
        """Keep a copy of the EMA weights now (a small model's are a few hundred KB)."""
        if self._snap.stages and self._snap.stages[-1][0] == trainer.step:
            return
        state = {k: v.detach().clone() for k, v in trainer.ema.state_dict().items()}
        self._update(stages=self._snap.stages + ((trainer.step, state),))

    def _preview(self, trainer: Trainer) -> None:
        """A few DDIM samples from the EMA model at guidance 2, labels in turn. The same seed each
        time, so successive previews differ only by what the model learnt."""
        self._last_preview = time.monotonic()
        world, names = get_world(self.spec.world), self.spec.labels
        p = world.preview
        y = torch.arange(p["n"]) % len(names)
        x = sample(trainer.ema, trainer.task.diffusion, y, world.sample_shape, len(names), keep_trajectory=False,
                   guidance=2.0, steps=p["steps"], sampler="ddim",
                   generator=torch.Generator().manual_seed(self.spec.seed)).samples
        data = world.to_data(x)
        data.flags.writeable = False
        self._update(preview=data, preview_labels=tuple(names[i] for i in y.tolist()),
                     preview_step=trainer.step)


class _Counter:
    """How many jobs are training, as a context manager around each job's run."""

    def __init__(self):
        self._n, self._lock = 0, threading.Lock()

    def __enter__(self):
        with self._lock:
            self._n += 1

    def __exit__(self, *exc):
        with self._lock:
            self._n -= 1

    def __bool__(self) -> bool:
        return self._n > 0


class JobManager:
    """Runs at most one Job at a time (thread-safe). Keeps the folders of the last `keep` jobs
    under `root` (default: a fresh temp folder) and deletes older ones."""

    def __init__(self, root: str | Path | None = None, threads: int = 1, keep: int = 3):
        self.root = Path(root) if root is not None else None
        self.threads, self.keep = threads, keep
        self._active = _Counter()
        self._lock = threading.Lock()
        self._jobs: list[Job] = []
        self._count = 0  # jobs started so far: the next job's id

    def start(self, spec: LiveSpec) -> Job:
        spec = spec.validate()
        with self._lock:
            job = self.current()
            if job is not None and job.running:
                raise Busy(f"a training job is already running (since {_utc(job.started)}); it stops by "
                           f"{_utc(job.deadline)} at the latest: stop it or wait")
            if self.root is None:
                self.root = Path(tempfile.mkdtemp(prefix="gde-live-"))
            self.root.mkdir(parents=True, exist_ok=True)
            self._count += 1
            work = Path(tempfile.mkdtemp(prefix=f"job{self._count}-", dir=self.root))
            job = Job(self._count, spec, work / f"{spec.world}-live", self.threads, self._active)
            self._jobs.append(job)
            while len(self._jobs) > max(1, self.keep):
                shutil.rmtree(self._jobs.pop(0).folder.parent, ignore_errors=True)
            return job.start()

    def training_now(self) -> bool:
        """Is a job training? A sampler then uses one thread, not two: two OpenMP teams on two
        cores stall each other at every barrier."""
        return bool(self._active)

    def current(self) -> Job | None:
        """The running job, else the latest finished one, else None."""
        return self._jobs[-1] if self._jobs else None

    def wait(self, timeout: float | None = None) -> JobSnapshot | None:
        job = self.current()
        return None if job is None else job.wait(timeout)
