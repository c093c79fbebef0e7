"""Guidance's two branches as two U-Nets: each row's eps is its branch's on every path a sampler or trainer
takes, and the pair round-trips through a checkpoint folder strictly."""
import pytest
import torch

from diffusion.core.guiders import RunModel
from diffusion.models.branches import BranchUNets
from diffusion.models.checkpoint import DiffusionConfig, load_checkpoint, save_checkpoint
from diffusion.models.unet import UNet

TINY = dict(num_classes=10, channels=[8, 16, 16], emb_dim=16)
EMPTY = 10


def unet(seed: int, **kw) -> UNet:
    g = torch.Generator().manual_seed(seed)
    m = UNet(**TINY, **kw)
    with torch.no_grad():
        for p in m.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.1)
    return m.eval()


@pytest.fixture(scope="module")
def pair():
    cond, uncond = unet(0), unet(1, extra_blocks=[0, 1, 1])  # the branches need not share a shape
    return cond, uncond, BranchUNets.join(cond, uncond).eval()


def one_by_one(cond, uncond, x, t, y):
    return torch.cat([(uncond if int(y[i]) == EMPTY else cond)(x[i:i + 1], t[i:i + 1], y[i:i + 1])
                      for i in range(len(x))])


def test_each_row_gets_its_branchs_eps(pair):
    cond, uncond, m = pair
    g = torch.Generator().manual_seed(2)
    x, t, y = torch.randn(5, 1, 28, 28, generator=g), torch.tensor([0, 499, 500, 999, 250]), torch.tensor([1, EMPTY, 3, EMPTY, 9])
    with torch.no_grad():
        torch.testing.assert_close(m(x, t, y), one_by_one(cond, uncond, x, t, y), atol=1e-5, rtol=0)
        assert not torch.allclose(cond(x[1:2], t[1:2], y[1:2]), m(x[1:2], t[1:2], y[1:2]), atol=1e-3)
        # guidance's layout: B inputs, 2 B embedding rows [cond; uncond], row r reading input r % B
        rows = torch.cat([y, torch.full_like(y, EMPTY)])
        shared = m.trunk(x, m.embed(torch.cat([t, t]), rows))
        torch.testing.assert_close(shared, one_by_one(cond, uncond, torch.cat([x, x]), torch.cat([t, t]), rows),
                                   atol=1e-5, rtol=0)


def test_a_guided_run_reads_each_branch_from_the_embedding_grid(pair):
    cond, uncond, m = pair
    times = torch.tensor([999, 500, 0])
    x = torch.randn(2, 1, 28, 28, generator=torch.Generator().manual_seed(3))
    run = RunModel(m, times)  # the sampler's path: one embedding grid per run, then trunk per step
    with torch.no_grad():
        for rows in (torch.tensor([4, 7, EMPTY, EMPTY]), torch.tensor([EMPTY, EMPTY]), torch.tensor([4, 7])):
            for i, t in enumerate(times):
                k = len(rows) // len(x)
                want = one_by_one(cond, uncond, torch.cat([x] * k), t.expand(len(rows)), rows)
                torch.testing.assert_close(run(x, i, rows), want, atol=1e-5, rtol=0)


def test_pair_round_trips_strictly_and_refuses_mismatched_branches(pair, tmp_path):
    m = pair[2]
    config = DiffusionConfig("mnist", [str(d) for d in range(10)], "BranchUNets", "cosine", 1000, 0.5)
    folder = save_checkpoint(tmp_path / "pair", m, config, {}, "# card\n")
    loaded = load_checkpoint(folder, "mnist").model
    assert isinstance(loaded, BranchUNets)
    assert loaded.state_dict().keys() == m.state_dict().keys()
    for k, v in m.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])
    with pytest.raises(ValueError, match="uncond num_classes=3 is not allowed; allowed: cond's 10"):
        BranchUNets(TINY, {**TINY, "num_classes": 3})


def test_join_cli_saves_a_loadable_pair_with_both_records(tmp_path, capsys):
    from diffusion.join import main
    labels = [str(d) for d in range(10)]
    folders = {}
    for name, seed, p in (("c", 0, 0.0), ("u", 1, 0.8)):
        card = f"---\nlibrary_name: pytorch\n---\n\n# a card\n\n| p_uncond | {p} |\n\n<!-- evaluation:begin -->\nold\n<!-- evaluation:end -->\n\n<!-- vs-exact:begin -->\nalone\n<!-- vs-exact:end -->\n"
        folders[name] = save_checkpoint(tmp_path / name, unet(seed), DiffusionConfig("mnist", labels, "UNet", "cosine", 1000, p),
                                        {"step": seed}, card)
    assert main(["--cond", str(folders["c"]), "--uncond", str(folders["u"]), "--out", str(tmp_path / "pair")]) == 0
    ck = load_checkpoint(tmp_path / "pair", "mnist")
    assert isinstance(ck.model, BranchUNets) and ck.config.architecture == "BranchUNets" and ck.config.p_uncond == 0.8
    assert ck.history == {"branches": {"cond": {"step": 0}, "uncond": {"step": 1}}}
    card = (tmp_path / "pair" / "README.md").read_text()
    assert "| p_uncond | 0.0 |" in card and "| p_uncond | 0.8 |" in card and "old" not in card and "alone" not in card
    assert card.count("<!-- evaluation:begin -->") == 1
    other = save_checkpoint(tmp_path / "o", unet(2), DiffusionConfig("mnist", labels, "UNet", "linear", 1000, 0.2), {}, "")
    with pytest.raises(ValueError, match="--uncond schedule='linear' is not allowed; allowed: --cond's 'cosine'"):
        main(["--cond", str(folders["c"]), "--uncond", str(other), "--out", str(tmp_path / "bad")])


def test_training_tab_draws_a_joined_models_longer_run():
    from diffusion.app.train_handlers import training_curve
    cond, uncond = {"step": 32000, "loss": [[32000, 0.02]]}, {"step": 60000, "loss": [[60000, 0.018]]}
    h, words = training_curve({"branches": {"cond": cond, "uncond": uncond}})
    assert h is uncond and words == "uncond branch, 60,000 steps (cond branch 32,000)"
    assert training_curve(cond) == (cond, "32000 steps") and training_curve(None) == ({}, "? steps")


def test_training_does_not_overwrite_a_joined_checkpoint(tmp_path, capsys):
    """`python -m diffusion.train mnist` saves into checkpoints/mnist by default, where the joined pair is shipped."""
    import json

    from diffusion.inputs import run
    from diffusion.train import main
    out = tmp_path / "pair"
    out.mkdir()
    (out / "diffusion.json").write_text(json.dumps({"world": "points", "labels": ["spiral"], "architecture": "BranchUNets"}))
    assert run(main, ["points", "--out", str(out), "--steps", "1", "--threads", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"--out={out} holds a BranchUNets checkpoint, which training a PointDenoiser would overwrite; "
                        f"allowed: an --out without one (e.g. runs/pair; `python -m diffusion.join` makes a "
                        f"BranchUNets from two runs)") and "\n" not in err
    assert sorted(p.name for p in out.iterdir()) == ["diffusion.json"]
