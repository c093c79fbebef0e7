"""Resumable evaluations (`evaluate --cache DIR`): a stopped MNIST table resumes at the chunk where
it stopped, with the same numbers as an uninterrupted run, and the cache key changes with every
input that decides the samples."""
import copy
import json

import pytest
import torch

from diffusion import evaluate
from diffusion.evaluation import mnist_report, sample_cache
from diffusion.evaluation.sample_cache import SampleCache, code_digest, model_digest
from diffusion.guided_sampler import GuidedSampler
from diffusion.core.schedules import SPACINGS
from diffusion.inputs import run

VS_EXACT = ["mnist", "--vs-exact", "10", "--n-per-class", "3", "--steps", "3", "--sampler", "ddim",
            "--guidance", "2"]


def rows(path):
    return json.loads(path.read_text())


def test_a_stopped_table_resumes_where_it_stopped_with_the_same_numbers(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(mnist_report, "CHUNK", 10)  # 30 digits: 3 chunks for the network, 3 for the exact model
    assert run(evaluate.main, VS_EXACT + ["--json", str(tmp_path / "plain.json")]) == 0

    real_sample, calls = GuidedSampler.sample, []

    def stop_at_the_fourth(self, *a, **k):
        calls.append(1)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the session ends during the exact model's first chunk
        return real_sample(self, *a, **k)

    monkeypatch.setattr(GuidedSampler, "sample", stop_at_the_fourth)
    cache = tmp_path / "cache"
    with pytest.raises(KeyboardInterrupt):
        evaluate.main(VS_EXACT + ["--cache", str(cache)])
    assert len(list(cache.glob("*.npy"))) == 3 and not list(cache.glob("*.tmp"))

    calls.clear()
    monkeypatch.setattr(GuidedSampler, "sample", lambda self, *a, **k: (calls.append(1), real_sample(self, *a, **k))[1])
    capsys.readouterr()
    assert run(evaluate.main, VS_EXACT + ["--cache", str(cache), "--json", str(tmp_path / "resumed.json")]) == 0
    assert len(calls) == 3  # only the exact model's chunks were sampled
    assert "3 chunks reused, 3 sampled" in capsys.readouterr().err
    assert rows(tmp_path / "resumed.json") == rows(tmp_path / "plain.json")

    calls.clear()
    assert run(evaluate.main, VS_EXACT + ["--cache", str(cache), "--json", str(tmp_path / "again.json")]) == 0
    assert calls == [] and rows(tmp_path / "again.json") == rows(tmp_path / "plain.json")


def test_the_key_changes_with_everything_that_decides_the_samples(tmp_path):
    net = GuidedSampler.load("mnist")
    cache = SampleCache(tmp_path)
    run_ = dict(labels=["3", "4"], guidance=2.0, steps=10, sampler="ddim", eta=0.0, seed=0, guide=None)
    key = cache.key(net, run_)
    assert cache.key(net, dict(run_)) == key
    for change in (dict(labels=["3", "5"]), dict(guidance=2.5), dict(steps=11), dict(sampler="ddpm"),
                   dict(eta=0.5), dict(seed=1), dict(guide={"method": "rescale", "phi": 0.5})):
        assert cache.key(net, {**run_, **change}) != key, change
    net.spacing = next(v for v in SPACINGS if v != net.spacing_for("ddim"))
    assert cache.key(net, run_) != key  # the spacing the run uses
    net.spacing = None
    cache.code = "another source"
    assert cache.key(net, run_) != key
    cache.code = code_digest()
    exact = net.exact(10)
    assert cache.key(exact, run_) != key and cache.key(net.exact(10, seed=1), run_) != cache.key(exact, run_)
    # autoguidance: its weak model's weights are part of the key
    ag = {**run_, "guide": {"method": "autoguidance"}}
    before = cache.key(net, ag)
    other = copy.deepcopy(net.helper("weak_model"))
    with torch.no_grad():
        next(other.parameters()).add_(1e-3)
    net.helpers["weak_model"] = other
    assert model_digest(other) != model_digest(net.checkpoint.model) and cache.key(net, ag) != before


def test_the_code_digest_follows_the_sampling_sources(tmp_path, monkeypatch):
    for name in ("core/a.py", "models/b.py", "guided_sampler.py"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(sample_cache, "PACKAGE", tmp_path)
    first = code_digest()
    (tmp_path / "core" / "a.py").write_text("x = 2\n")
    assert code_digest() != first
    (tmp_path / "core" / "a.py").write_text("x = 1\n")
    (tmp_path / "core" / "notes.txt").write_text("not code")
    assert code_digest() == first


@pytest.mark.parametrize("argv,needle", [
    (["points", "--cache", "c"], "--cache keeps MNIST digits"),
    (["mnist-weak", "--cache", "c"], "resumes with --reuse JSON"),
    (["lenet", "--cache", "c"], "lenet judges the test digits and samples none"),
    (["mnist", "--cache", "/proc/no/such"], "cache='/proc/no/such' is not allowed; allowed: a folder this process can create"),
])
def test_cache_where_it_does_nothing_is_refused(argv, needle, capsys):
    assert run(evaluate.main, argv) == 2
    assert needle in capsys.readouterr().err


def test_the_card_quotes_the_command_without_the_cache():
    assert evaluate.command(["mnist", "--cache", "runs/c", "--vs-exact", "5"]) == \
        "python -m diffusion.evaluate mnist --vs-exact 5"
    assert evaluate.command(["mnist", "--cache=runs/c", "--steps", "3"]) == "python -m diffusion.evaluate mnist --steps 3"


def test_an_exact_denoisers_digest_knows_its_classes():
    """The same rows under other labels are another model: the labels are part of its state."""
    from diffusion.models.exact import ExactDenoiser
    data, ab = torch.zeros(4, 2), torch.linspace(0.99, 0.01, 10)
    data[1:] = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    a = ExactDenoiser(data, torch.tensor([0, 0, 1, 1]), ab, null_label=2)
    b = ExactDenoiser(data, torch.tensor([0, 1, 1, 1]), ab, null_label=2)
    assert torch.equal(a.pool, b.pool) and model_digest(a) != model_digest(b)


def test_a_row_served_from_the_cache_reports_the_seconds_its_samples_took_when_made(tmp_path):
    net = GuidedSampler.load("points")
    cache = SampleCache(tmp_path)
    run_ = dict(labels=["spiral"] * 4, guidance=2.0, steps=3, sampler="ddim", eta=0.0, seed=0, guide=None)

    def make():
        return net.sample("spiral", 2.0, 3, "ddim", 0.0, 4, 0, keep_trajectory=False).samples

    made = sample_cache.Stopwatch(cache)
    cache.fetch(net, run_, make)
    took = made.seconds()
    record = json.loads((tmp_path / f"{cache.key(net, run_)}.json").read_text())
    assert took == pytest.approx(record["seconds"]) and took > 0

    again = SampleCache(tmp_path)
    watch = sample_cache.Stopwatch(again)
    again.fetch(net, run_, make)
    assert again.hits == 1 and watch.seconds() == pytest.approx(took)  # the making's time, not the reading's
    assert sample_cache.seconds_text(watch.seconds()) == f"{took:.0f}"

    (tmp_path / f"{cache.key(net, run_)}.json").unlink()  # a chunk made before times were recorded
    old = SampleCache(tmp_path)
    watch = sample_cache.Stopwatch(old)
    old.fetch(net, run_, make)
    assert watch.seconds() is None and sample_cache.seconds_text(None) == "-"
