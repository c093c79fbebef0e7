import socket
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
torch.set_num_threads(2)


class CountingModel(torch.nn.Module):
    """A deterministic stand-in denoiser that counts calls and the rows it was given.

    eps depends on x, t and y, so that guidance has something to mix."""

    def __init__(self, num_classes: int = 3):
        super().__init__()
        self.num_classes = num_classes
        self.calls, self.rows = 0, 0

    def forward(self, x, t, y):
        self.calls += 1
        self.rows += x.shape[0]
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return 0.3 * x + 0.001 * t.float().reshape(shape) + 0.1 * (y.float().reshape(shape) - 1)


@pytest.fixture
def counting_model():
    return CountingModel()


class RecordingModel(torch.nn.Module):
    """A trainable stand-in denoiser (eps = w x) that keeps the t and y of its last call."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen_t = self.seen_y = None

    def forward(self, x, t, y):
        self.seen_t, self.seen_y = t, y
        return x * self.w


def points_train_config(tmp_path, **kw):
    """A tiny points run (T = 100, two classes) with the training options in kw."""
    from diffusion.training.trainer import TrainConfig
    return TrainConfig(kind="points", out=str(tmp_path / "ck"), steps=4, batch_size=32, lr=1e-3, warmup=1,
                       schedule="linear", timesteps=100, labels=["spiral", "moons"],
                       model=dict(width=16, depth=1, fourier=2), eval_every=2, save_every=2, threads=1, **kw)


def changes_the_loss_not_the_validation(plain, other):
    """Trainers of the two configs from the same weights: their validation losses are equal and
    their training losses on one batch and generator are not. Returns the second trainer."""
    from diffusion.training.tasks import DiffusionTask
    from diffusion.training.trainer import Trainer
    a, b = Trainer(DiffusionTask(plain), plain), Trainer(DiffusionTask(other), other)
    b.model.load_state_dict(a.model.state_dict())
    b.ema.load_state_dict(a.ema.state_dict())
    assert a.validate() == b.validate()
    batch = a.task.batch(0, torch.Generator().manual_seed(0))
    la = a.task.loss(a.model, batch, torch.Generator().manual_seed(3))
    lb = b.task.loss(b.model, batch, torch.Generator().manual_seed(3))
    assert torch.isfinite(lb) and la != lb
    return b


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url():
    """The app, served on a free local port for the tests of one module."""
    import app
    port = free_port()
    app.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        app.demo.close()
