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
