"""Shared test helpers: deterministic data of the kinds quantization cares about."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

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


FINITE_F32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@st.composite
def quant_cases(draw, elements=FINITE_F32):
    """(X, bits, axis, group_size) over all bit widths and granularities."""
    rows = draw(st.integers(1, 5))
    cols = draw(st.sampled_from([1, 2, 3, 4, 6, 8, 12]))
    X = draw(hnp.arrays(np.float32, (rows, cols), elements=elements))
    bits = draw(st.integers(2, 8))
    kind = draw(st.sampled_from(["tensor", "channel", "group"]))
    axis = draw(st.sampled_from([0, 1, -1, -2])) if kind == "channel" else None
    group_size = (
        draw(st.sampled_from([d for d in (1, 2, 3, 4, 6) if cols % d == 0])) if kind == "group" else None
    )
    return X, bits, axis, group_size
