"""Quality measures. 2D: distance to the true curve and coverage of it. MNIST: classifier
accuracy, per-digit precision/recall/F1, the Frechet LeNet Distance (FLD) and diversity."""
from __future__ import annotations

import numpy as np
import torch


def nearest_distance(a: np.ndarray, b: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """For every row of a (n, d): the Euclidean distance to the nearest row of b (m, d)."""
    ta, tb = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    return torch.cat([torch.cdist(ta[i:i + chunk], tb).min(1).values
                      for i in range(0, len(ta), chunk)]).numpy()


def curve_fit(samples: np.ndarray, curve: np.ndarray) -> dict:
    """distance: mean distance from each sample to the curve (are samples on it?);
    coverage: mean distance from each curve point to the nearest sample (is all of it drawn?)."""
    return {"distance": float(nearest_distance(samples, curve).mean()),
            "coverage": float(nearest_distance(curve, samples).mean())}


def pattern_shares(samples: np.ndarray, curves: dict[str, np.ndarray], near: float = 0.05) -> dict:
    """Share of samples whose nearest pattern is each one and lies within `near`; the rest is
    reported as "none"."""
    names = list(curves)
    d = np.stack([nearest_distance(samples, curves[k]) for k in names], 1)
    best = d.argmin(1)
    on = d.min(1) <= near
    shares = {k: float(np.mean(on & (best == i))) for i, k in enumerate(names)}
    shares["none"] = float(np.mean(~on))
    return shares


def spread(samples: np.ndarray) -> float:
    """Diversity of a point cloud: the mean distance of the points from their centroid."""
    return float(np.linalg.norm(samples - samples.mean(0), axis=1).mean())


# -- MNIST ---------------------------------------------------------------------------------------
def confusion(true: np.ndarray, pred: np.ndarray, k: int = 10) -> np.ndarray:
    """(k, k) counts, rows = true class, columns = predicted class."""
    m = np.zeros((k, k), dtype=np.int64)
    np.add.at(m, (true, pred), 1)
    return m


def precision_recall_f1(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where undefined)."""
    tp = np.diag(cm).astype(np.float64)
    pred_pos, true_pos = cm.sum(0), cm.sum(1)
    precision = np.divide(tp, pred_pos, out=np.zeros_like(tp), where=pred_pos > 0)
    recall = np.divide(tp, true_pos, out=np.zeros_like(tp), where=true_pos > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1}


def gaussian_stats(f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d), float64, of a feature set (n, d): what FLD compares."""
    f = np.asarray(f, np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_from_stats(mu1: np.ndarray, s1: np.ndarray, mu2: np.ndarray, s2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)) between two Gaussians. Tr((S1 S2)^(1/2)) is
    computed as the sum of sqrt eigenvalues of the symmetric S1^(1/2) S2 S1^(1/2), which needs no
    scipy and stays real."""
    w, v = np.linalg.eigh(s1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    cross = np.sqrt(np.clip(np.linalg.eigvalsh(root1 @ s2 @ root1), 0, None)).sum()
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * cross)


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """The Frechet distance between Gaussians fitted to two feature sets (n, d)."""
    return frechet_from_stats(*gaussian_stats(f1), *gaussian_stats(f2))


def mean_pairwise_distance(x: np.ndarray) -> float:
    """Mean Euclidean distance over all pairs of rows of x (n, d): diversity within a group."""
    if len(x) < 2:
        return 0.0
    t = torch.as_tensor(np.asarray(x, np.float64).reshape(len(x), -1))
    d = torch.cdist(t, t)
    return float(d.sum() / (len(x) * (len(x) - 1)))
