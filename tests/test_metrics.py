"""Tests for qlab.metrics: error metrics and stored-size accounting."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qlab.absmax import absmax_dequantize, absmax_quantize
from qlab.granularity import effective_bits
from qlab.metrics import bits_per_parameter, max_abs_error, mse, sqnr_db, storage_bytes
from qlab.zeropoint import zeropoint_quantize

# --- error metrics --------------------------------------------------------------------


def test_hand_values():
    x = np.array([1.0, -2.0, 3.0, 0.0], dtype=np.float32)
    y = np.array([1.5, -2.0, 2.0, 0.0], dtype=np.float32)
    assert mse(x, y) == pytest.approx((0.25 + 1.0) / 4)
    assert max_abs_error(x, y) == 1.0
    # signal 1 + 4 + 9 = 14, noise 1.25
    assert sqnr_db(x, y) == pytest.approx(10 * math.log10(14 / 1.25))


def test_one_more_bit_is_about_6_db():
    x = np.random.default_rng(0).normal(size=100_000).astype(np.float32)
    s7 = sqnr_db(x, absmax_dequantize(*absmax_quantize(x, bits=7)))
    s8 = sqnr_db(x, absmax_dequantize(*absmax_quantize(x, bits=8)))
    assert 5.5 < s8 - s7 < 6.5


def test_edge_cases_without_warnings():
    x = np.array([1.0, 2.0], dtype=np.float32)
    z = np.zeros(2, dtype=np.float32)
    assert sqnr_db(x, x) == math.inf
    assert sqnr_db(z, z) == math.inf
    assert sqnr_db(z, x) == -math.inf
    assert mse(z, z) == 0.0 and max_abs_error(x, x) == 0.0


def test_float64_computation_and_torch_inputs():
    # float32 would lose the 1e-10 difference next to 1.0
    x = np.array([1.0, 1.0 + 1e-10])
    assert max_abs_error(x[:1], x[1:]) == pytest.approx(1e-10, rel=1e-5)
    tx = torch.tensor([1.0, 2.0, 3.0])
    ty = torch.tensor([1.0, 2.5, 3.0], dtype=torch.bfloat16)
    assert mse(tx, ty) == pytest.approx(0.25 / 3)
    assert mse(tx, ty.float().numpy()) == mse(tx, ty)
    # huge values would overflow float32 when squared
    big = np.array([3e38, -3e38], dtype=np.float32)
    assert math.isfinite(sqnr_db(big, big * np.float32(0.5)))
    assert sqnr_db(big, big * np.float32(0.5)) == pytest.approx(10 * math.log10(4))


@given(
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e6, 1e6)),
    hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(-1e6, 1e6)),
)
def test_metrics_match_definitions(x, y):
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    d = [float(a) - float(b) for a, b in zip(x, y, strict=True)]
    assert mse(x, y) == pytest.approx(sum(v * v for v in d) / n, rel=1e-9, abs=1e-300)
    assert max_abs_error(x, y) == max(abs(v) for v in d)
    assert mse(x, y) <= max_abs_error(x, y) ** 2 * (1 + 1e-12)


def test_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\) but y has shape \(3, 2\)"):
        mse(x, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(6,\)"):
        sqnr_db(x, np.ones(6, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        mse(x, np.full((2, 3), np.nan, np.float32))
    with pytest.raises(ValueError, match="empty"):
        max_abs_error(np.zeros(0), np.zeros(0))
    with pytest.raises(TypeError, match="dtype int64"):
        mse(np.ones(3), np.arange(3))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        mse(None, np.ones(3))


# --- storage --------------------------------------------------------------------------


def test_absmax_int8_per_tensor_on_1024x1024():
    W = np.random.default_rng(0).normal(size=(1024, 1024)).astype(np.float32)
    result = absmax_quantize(W)
    assert storage_bytes(result) == 2**20 + 4
    assert bits_per_parameter(result, W.size) == 8 + 32 / 2**20
    assert bits_per_parameter(result, W.size) == effective_bits(8, W.shape)
    Wt = torch.from_numpy(W)
    assert bits_per_parameter(absmax_quantize(Wt), Wt.numel()) == 8 + 32 / 2**20


def test_nf4_blocksize_64_is_exactly_4_5_bits():
    n = 4096 * 64
    packed = np.zeros(n // 2, dtype=np.uint8)  # two 4-bit codes per byte
    absmax = np.zeros(n // 64, dtype=np.float32)  # one float32 absmax per block of 64
    assert bits_per_parameter((packed, absmax), n) == 4.5

    @dataclass
    class FakeQuantState:
        absmax: Any
        shape: tuple[int, ...]
        code: Any  # the 16 NF4 values: a constant of the format, not stored per tensor
        blocksize: int
        quant_type: str

    state = FakeQuantState(torch.from_numpy(absmax), (4096, 64), torch.zeros(16), 64, "nf4")
    assert storage_bytes(state) == absmax.nbytes
    assert bits_per_parameter((torch.from_numpy(packed), state), n) == 4.5


def test_walks_containers_dataclasses_and_plain_objects():
    a = np.zeros(10, np.float16)  # 20 bytes
    b = torch.zeros(3, dtype=torch.float64)  # 24 bytes

    class Plain:  # like bitsandbytes' QuantState: not a dataclass
        def __init__(self):
            self.absmax = np.zeros(4, np.float32)  # 16 bytes
            self.code = np.zeros(256, np.float32)  # skipped
            self.dtype = torch.float16
            self.nested = {"state2": [np.zeros(2, np.int8)], "code": np.zeros(16)}  # 2 bytes

    assert storage_bytes({"a": a, "rest": [b, (1, "x", None)]}) == 44
    assert storage_bytes(Plain()) == 18
    assert storage_bytes([a, a]) == 20  # the same array twice is stored once
    cycle: list[Any] = [a]
    cycle.append(cycle)
    assert storage_bytes(cycle) == 20


def test_zeropoint_params_are_counted():
    X = np.random.default_rng(1).normal(size=(64, 128)).astype(np.float32)
    codes, params = zeropoint_quantize(X, bits=8, group_size=64)
    # int8 codes + float32 scale + int8 zero point per group of 64: the conventional 8.625
    assert bits_per_parameter((codes, params), X.size) == 8 + (32 + 8) / 64 == 8.625
    assert bits_per_parameter((codes, params), X.size) == effective_bits(
        8, X.shape, group_size=64, scale_bits=32 + 8
    )
    # the same from torch, and absmax g64 (a float32 scale only): 8 + 32/64
    t_codes, t_params = zeropoint_quantize(torch.from_numpy(X), bits=8, group_size=64)
    assert bits_per_parameter((t_codes, t_params), X.size) == 8.625
    assert bits_per_parameter(absmax_quantize(X, group_size=64), X.size) == 8.5
    # inv_scale is derived, not stored: it adds nothing
    assert storage_bytes(params) == params.scale.nbytes + params.zero_point.nbytes == 128 * 5


def test_bits_per_parameter_checks_n_params():
    with pytest.raises(ValueError, match="n_params"):
        bits_per_parameter(np.zeros(4), 0)
    with pytest.raises(TypeError, match="n_params"):
        bits_per_parameter(np.zeros(4), 4.0)
