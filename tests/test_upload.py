"""Uploaded checkpoints: valid files and zips load and sample like the original; everything else is
refused with a one-line UploadError before a model is built, and nothing is ever unpickled."""
import json
import pickle
import zipfile

import pytest
import torch
from safetensors.torch import load_file, save_file

from diffusion.hub import upload
from diffusion.guided_sampler import GuidedSampler
from diffusion.models.checkpoint import DiffusionConfig, load_checkpoint, save_checkpoint
from diffusion.models.branches import BranchUNets
from diffusion.models.mlp import PointDenoiser
from diffusion.models.unet import UNet
from diffusion.hub.upload import UploadError, load_uploaded, zip_checkpoint

FILES = ("config.json", "model.safetensors", "diffusion.json", "history.json", "README.md")


def seeded(make):
    """Weight init reads the global RNG: give it a private, seeded copy."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return make()


@pytest.fixture
def points_ck(tmp_path):
    model = seeded(lambda: PointDenoiser(num_classes=2, width=16, depth=1, fourier=2))
    config = DiffusionConfig("points", ["spiral", "moons"], "PointDenoiser", "linear", 50, 0.2)
    return save_checkpoint(tmp_path / "points", model, config, {"loss": [[1, 0.5]]}, "# tiny\n")


def files_of(folder):
    return [folder / n for n in FILES]


def samples(ck):
    return GuidedSampler(ck).sample("moons", guidance=2, steps=10, sampler="ddpm", n=32, seed=1).samples


def test_folder_round_trip_samples_identically(points_ck, tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("something tried to unpickle")
    for obj, name in [(torch, "load"), (pickle, "load"), (pickle, "loads")]:
        monkeypatch.setattr(obj, name, refuse)
    ck = load_uploaded([str(p) for p in files_of(points_ck)], root=tmp_path)
    assert ck.path.is_relative_to(tmp_path) and ck.config.labels == ["spiral", "moons"]
    assert ck.history == {"loss": [[1, 0.5]]}
    assert torch.equal(samples(ck), samples(load_checkpoint(points_ck, "points")))


@pytest.mark.parametrize("in_folder", [True, False])
def test_zip_round_trip(points_ck, tmp_path, in_folder):
    if in_folder:
        archive = zip_checkpoint(points_ck)  # what the Train tab offers for download
    else:
        archive = tmp_path / "flat.zip"
        with zipfile.ZipFile(archive, "w") as z:
            for p in files_of(points_ck)[:3]:  # the required files only
                z.write(p, p.name)
    ck = load_uploaded(archive, root=tmp_path)
    assert torch.equal(samples(ck), samples(load_checkpoint(points_ck, "points")))


def test_mnist_unet_zip_with_macos_junk(tmp_path):
    model = seeded(lambda: UNet(num_classes=2, channels=[4, 8, 8], emb_dim=8))
    config = DiffusionConfig("mnist", ["3", "7"], "UNet", "cosine", 20, 0.1)
    folder = save_checkpoint(tmp_path / "mnist", model, config, {}, "# tiny unet\n")
    archive = zip_checkpoint(folder)
    with zipfile.ZipFile(archive, "a") as z:
        z.writestr("__MACOSX/mnist/._config.json", b"\x00junk")
    ck = load_uploaded([archive], root=tmp_path)
    assert ck.config.world == "mnist" and ck.model.num_classes == 2
    x = GuidedSampler(ck).sample("7", guidance=1, steps=2, sampler="ddim", n=2, seed=0).samples
    assert x.shape == (2, 1, 28, 28)


def joined_folder(tmp_path):
    cond = seeded(lambda: UNet(num_classes=2, channels=[4, 8, 8], emb_dim=8))
    uncond = seeded(lambda: UNet(num_classes=2, channels=[4, 8, 8], emb_dim=8, extra_blocks=[0, 1, 0]))
    config = DiffusionConfig("mnist", ["3", "7"], "BranchUNets", "cosine", 20, 0.1)
    return save_checkpoint(tmp_path / "joined", BranchUNets.join(cond, uncond), config, {}, "# joined\n")


def test_joined_checkpoint_round_trip(tmp_path):
    """What `python -m diffusion.join` writes (the shipped MNIST model's form) comes back through an upload."""
    folder = joined_folder(tmp_path)
    ck = load_uploaded([zip_checkpoint(folder)], root=tmp_path)
    assert type(ck.model).__name__ == "BranchUNets"
    run = lambda c: GuidedSampler(c).sample("7", guidance=2, steps=3, sampler="ddim", n=2, seed=0).samples
    assert torch.equal(run(ck), run(load_checkpoint(folder, "mnist")))


@pytest.mark.parametrize("change,needle", [
    (lambda d: d.pop("uncond"), "config.json has keys ['cond']; allowed for BranchUNets: exactly ['cond', 'uncond']"),
    (lambda d: d["uncond"].update(emb_dim=2),
     "config.json uncond: emb_dim=2 is not allowed; allowed: an integer in 8..1024"),
    (lambda d: d["cond"].update(num_classes=3), "config.json cond: num_classes=3 but diffusion.json names 2 labels"),
])
def test_rejected_joined_configs(tmp_path, change, needle):
    folder = joined_folder(tmp_path)
    edit_json("config.json", change)(folder)
    with pytest.raises(UploadError) as e:
        load_uploaded(files_of(folder))
    assert str(e.value).startswith(needle)


# -- rejections: each edit breaks one thing in a valid folder ------------------------------------
def edit_json(name, change):
    def edit(folder):
        data = json.loads((folder / name).read_text())
        change(data)
        (folder / name).write_text(json.dumps(data))
    return edit


def drop_tensor(folder):
    tensors = load_file(folder / "model.safetensors")
    del tensors["inp.bias"]
    save_file(tensors, folder / "model.safetensors")


def int_tensor(folder):
    tensors = load_file(folder / "model.safetensors")
    tensors["inp.bias"] = tensors["inp.bias"].long()
    save_file(tensors, folder / "model.safetensors")


def write(name, content):
    return lambda folder: (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


REJECTIONS = [
    (write("notes.txt", "hi"), "unexpected file 'notes.txt'; allowed: config.json, model.safetensors"),
    (write("pytorch_model.bin", b"x"), "refusing 'pytorch_model.bin': pickle-based files can run code"),
    (write("weights.pkl", b"x"), "refusing 'weights.pkl'"),
    (write("config.json", "{}" + " " * 70_000), "config.json is 68 KB; allowed: at most 64 KB"),
    (write("config.json", "{"), "config.json is not valid JSON"),
    (write("diffusion.json", "[1, 2]"), "diffusion.json must hold a JSON object, not list"),
    (write("model.safetensors", pickle.dumps({"inp.weight": [0.0]})),
     "model.safetensors is not a valid safetensors file"),
    (edit_json("config.json", lambda d: d.update(width=32)),
     "model.safetensors: inp.weight has shape [16, 10] but config.json needs [32, 10]"),
    (edit_json("config.json", lambda d: d.update(width=4096)),
     "config.json: width=4096 is not allowed; allowed: an integer in 8..1024"),
    (edit_json("config.json", lambda d: d.update(width=16.0)), "config.json: width=16.0 is not allowed"),
    (edit_json("config.json", lambda d: d.pop("depth")),
     "config.json has keys ['fourier', 'num_classes', 'width']; allowed for PointDenoiser: exactly"),
    (edit_json("config.json", lambda d: d.update(num_classes=3)),
     "config.json: num_classes=3 but diffusion.json names 2 labels"),
    (drop_tensor, "model.safetensors does not fit config.json: missing ['inp.bias'], unexpected []"),
    (int_tensor, "model.safetensors: inp.bias has dtype I64; allowed: F32, F16, BF16"),
    (edit_json("diffusion.json", lambda d: d.update(architecture="UNet")),
     "diffusion.json: architecture='UNet' does not fit world 'points'; allowed: PointDenoiser"),
    (edit_json("diffusion.json", lambda d: d.update(architecture="BranchUNets")),
     "diffusion.json: architecture='BranchUNets' does not fit world 'points'; allowed: PointDenoiser"),
    (edit_json("diffusion.json", lambda d: d.update(world="lenet")),
     "diffusion.json: world='lenet' is not allowed; allowed: points, mnist"),
    (edit_json("diffusion.json", lambda d: d.update(labels=["circle", "moons"])),
     "diffusion.json: labels=['circle', 'moons'] are not allowed for points"),
    (edit_json("diffusion.json", lambda d: d.update(labels="spiral")),
     "diffusion.json: labels='spiral' are not allowed"),
    (edit_json("diffusion.json", lambda d: d.update(timesteps=5000)),
     "diffusion.json: timesteps=5000 is not allowed; allowed: an integer in 1..4000"),
    (edit_json("diffusion.json", lambda d: d.update(schedule="sigmoid")),
     "diffusion.json: schedule='sigmoid' is not allowed; allowed: linear, cosine"),
    (edit_json("diffusion.json", lambda d: d.update(p_uncond=1.5)), "diffusion.json: p_uncond=1.5 is not allowed"),
    (edit_json("diffusion.json", lambda d: d.update(extra=1)), "diffusion.json has keys"),
    (lambda f: (f / "diffusion.json").unlink(), "diffusion.json missing; needed: config.json"),
]


@pytest.mark.parametrize("edit,needle", REJECTIONS, ids=[n[:40] for _, n in REJECTIONS])
def test_rejected_files(points_ck, tmp_path, edit, needle):
    edit(points_ck)
    paths = [p for p in points_ck.iterdir() if p.is_file()]
    root = tmp_path / "uploads"
    root.mkdir()
    with pytest.raises(UploadError) as e:
        load_uploaded(paths, root=root)
    assert str(e.value).startswith(needle) and "\n" not in str(e.value)
    assert list(root.iterdir()) == []  # a refused upload leaves nothing behind


@pytest.mark.parametrize("change,needle", [
    (dict(channels=[36, 8, 8]), "config.json does not describe a buildable UNet"),
    (dict(channels=[4, 8]), "config.json: channels=[4, 8] is not allowed; allowed: 3 integers in 4..256"),
    (dict(emb_dim=2), "config.json: emb_dim=2 is not allowed; allowed: an integer in 8..1024"),
    (dict(extra_blocks=[0, 5, 0]), "config.json: extra_blocks=5 is not allowed; allowed: an integer in 0..2"),
    (dict(extra_blocks=[0, 1]), "config.json: extra_blocks=[0, 1] is not allowed; allowed: 3 integers in 0..2"),
    (dict(labels=["3", "x"]), "diffusion.json: labels=['3', 'x'] are not allowed for mnist"),
])
def test_rejected_unet_configs(tmp_path, change, needle):
    model = seeded(lambda: UNet(num_classes=2, channels=[4, 8, 8], emb_dim=8))
    folder = save_checkpoint(tmp_path / "mnist", model, DiffusionConfig("mnist", ["3", "7"], "UNet"), {}, "")
    name = "diffusion.json" if "labels" in change else "config.json"
    edit_json(name, lambda d: d.update(change))(folder)
    with pytest.raises(UploadError) as e:
        load_uploaded(files_of(folder))
    assert str(e.value).startswith(needle)


def zip_with(tmp_path, members, compression=zipfile.ZIP_STORED):
    archive = tmp_path / "up.zip"
    with zipfile.ZipFile(archive, "w", compression) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return archive


@pytest.mark.parametrize("names,needle", [
    (["../config.json"], "zip member '../config.json' has a path outside one folder"),
    (["/etc/config.json"], "zip member '/etc/config.json' has a path outside one folder"),
    (["a/b/config.json"], "zip member 'a/b/config.json' has a path outside one folder"),
    (["a/config.json", "b/diffusion.json"], "up.zip spreads its files over 2 folders"),
    (["a/config.json", "b/config.json"], "the zip holds config.json twice"),
    (["evil.pt"], "refusing 'evil.pt'"),
])
def test_rejected_zips(tmp_path, names, needle):
    with pytest.raises(UploadError, match="^" + needle.replace(".", r"\.").replace("(", r"\(")):
        load_uploaded(zip_with(tmp_path, {n: b"{}" for n in names}), root=tmp_path)


def test_zip_limits_and_mixtures(points_ck, tmp_path, monkeypatch):
    with pytest.raises(UploadError, match="^not-a-zip.zip is not a readable zip file"):
        (tmp_path / "not-a-zip.zip").write_bytes(b"PK no")
        load_uploaded([tmp_path / "not-a-zip.zip"])
    with pytest.raises(UploadError, match="^upload either one .zip or the individual files"):
        load_uploaded([zip_checkpoint(points_ck), points_ck / "config.json"])
    with pytest.raises(UploadError, match=r"^files=\[\] is not allowed \(no files uploaded\)"):
        load_uploaded([])
    corrupt = zip_with(tmp_path, {"config.json": b'{"width": 16}'})
    corrupt.write_bytes(corrupt.read_bytes().replace(b'{"width": 16}', b'{"width": 99}'))  # CRC fails
    with pytest.raises(UploadError, match="^up.zip: cannot read 'config.json' \\(Bad CRC-32"):
        load_uploaded(corrupt)
    # The real limit, 70 MB, is slow to build: lower it. Then the zip itself is too big ...
    monkeypatch.setattr(upload, "MAX_ZIP_TOTAL", 1000)
    with pytest.raises(UploadError, match="^points.zip is 0.00[0-9]+ MB; allowed: at most 0.000954 MB"):
        load_uploaded(zip_checkpoint(points_ck))
    # ... and a small zip that unpacks to more than the limit.
    monkeypatch.setattr(upload, "MAX_ZIP_TOTAL", 100_000)
    bomb = zip_with(tmp_path, {"config.json": b"{}", "history.json": b" " * 200_000}, zipfile.ZIP_DEFLATED)
    with pytest.raises(UploadError, match="^up.zip unpacks to more than 0.0954 MB"):
        load_uploaded(bomb)
