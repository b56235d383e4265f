"""Shared test helpers: deterministic data of the kinds quantization cares about."""

from __future__ import annotations

import logging

import numpy as np
import pytest

import qlab.lessons

logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
qlab.lessons.load_all()  # register every lesson's exercises, so the exercise tests see them all

DATA_KINDS = ("normal", "heavy_tailed", "outlier", "all_zero", "tiny", "constant")


def make_data(kind: str, shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """float32 test data: normal weights, heavy tails, one big outlier, zeros, tiny values, a constant."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    if kind == "normal":
        x = rng.standard_normal(n) * 0.02
    elif kind == "heavy_tailed":
        x = rng.standard_t(2, n)
    elif kind == "outlier":
        x = rng.standard_normal(n)
        x[n // 3] = 80.0
    elif kind == "all_zero":
        x = np.zeros(n)
    elif kind == "tiny":
        x = rng.standard_normal(n) * 1e-30
    elif kind == "constant":
        x = np.full(n, -0.75)
    else:
        raise ValueError(kind)
    return x.astype(np.float32).reshape(shape)


@pytest.fixture
def bnb_F():
    """bitsandbytes.functional, imported quietly (skips if bitsandbytes is not installed)."""
    pytest.importorskip("bitsandbytes")
    from qlab._bnb import bnb_functional

    return bnb_functional()
