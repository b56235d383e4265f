"""8-bit blockwise quantization with the dynamic map: bit parity with bitsandbytes' CPU kernel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import DATA_KINDS, make_data
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import qlab
from qlab.blockwise import _bin_table
from qlab.codebooks import dynamic_map_values

DTYPES = (torch.float32, torch.float16, torch.bfloat16)


@pytest.mark.parametrize("blocksize", [1, 64, 100, 256, 2048, 4096])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nested", [False, True])
def test_parity_with_bitsandbytes(bnb_F, blocksize, dtype, nested):
    for i, kind in enumerate(DATA_KINDS):
        x = torch.from_numpy(make_data(kind, (37, 301), seed=i)).to(dtype)
        codes, state = bnb_F.quantize_blockwise(x, blocksize=blocksize, nested=nested)
        ours, our_state = qlab.quantize_blockwise(x, blocksize=blocksize, nested=nested)
        assert torch.equal(ours, codes), kind
        assert torch.equal(our_state.absmax, state.absmax), kind
        if nested:
            assert float(our_state.offset) == float(state.offset)
            assert torch.equal(our_state.state2.absmax, state.state2.absmax)
        back = qlab.dequantize_blockwise(ours, our_state)
        assert back.dtype == dtype
        assert torch.equal(back, bnb_F.dequantize_blockwise(codes, state)), kind


def test_the_cpu_rule_is_a_65536_bin_table_not_exact_nearest():
    code = dynamic_map_values()
    x = np.linspace(-1, 1, 200_001, dtype=np.float32)
    x[0] = -1.0
    ours, state = qlab.quantize_blockwise(x, blocksize=x.size)
    assert state.absmax.tolist() == [1.0]
    exact = np.searchsorted((code[:-1] + code[1:]) / 2, x, side="left")
    differ = (ours != exact).mean()
    assert 0 < differ < 0.002  # a small share differs from exact nearest: documented
    # where they differ, the chosen code is never worse than the nearest by more than one bin width
    chosen_error = np.abs(code[ours].astype(np.float64) - x)
    best_error = np.abs(code[exact].astype(np.float64) - x)
    assert np.all(chosen_error <= best_error + 2 / 65535)
    assert qlab.quantize_blockwise(np.array([1.0, 0.0], np.float32))[0].tolist() == [255, 131]
    assert _bin_table(code.tobytes()).shape == (65536,)


@settings(max_examples=50, deadline=None)
@given(
    data=arrays(np.float32, st.integers(1, 500), elements=st.floats(-1e4, 1e4, width=32)),
    blocksize=st.sampled_from([1, 7, 64, 256]),
)
def test_round_trip_error_is_bounded_by_the_table_gaps(data, blocksize):
    codes, state = qlab.quantize_blockwise(data, blocksize=blocksize)
    back = qlab.dequantize_blockwise(codes, state).astype(np.float64)
    table = dynamic_map_values().astype(np.float64)
    # half the widest gap, plus one lookup-bin width (2/65535) for the CPU rule's near misses
    bound = np.diff(table).max() / 2 + 2 / 65535
    scales = np.repeat(state.absmax.astype(np.float64), blocksize)[: data.size]
    assert np.all(np.abs(back - data) <= bound * scales * (1 + 1e-6) + 1e-30)


def _well_separated(table: np.ndarray) -> np.ndarray:
    """Table entries whose neighbours are more than two lookup bins away on both sides."""
    gaps = np.diff(table.astype(np.float64))
    left = np.concatenate([[np.inf], gaps])
    right = np.concatenate([gaps, [np.inf]])
    return (left > 2 * 2 / 65535) & (right > 2 * 2 / 65535)


@settings(max_examples=30, deadline=None)
@given(picks=arrays(np.int64, st.integers(1, 300), elements=st.integers(0, 10_000)))
def test_table_values_survive_a_round_trip(picks):
    table = dynamic_map_values()
    candidates = np.flatnonzero(_well_separated(table))
    x = table[candidates[picks % candidates.size]].astype(np.float32)
    x[0] = 1.0  # absmax exactly 1: the values are the table itself
    codes, state = qlab.quantize_blockwise(x, blocksize=x.size)
    assert np.array_equal(qlab.dequantize_blockwise(codes, state), x)


def test_table_values_closer_than_a_lookup_bin_do_not_survive():
    # bitsandbytes' CPU rule (a 65,536-bin table) cannot tell apart codes packed closer than a
    # bin near zero: such values come back as a neighbour. qlab reproduces that, on purpose.
    table = dynamic_map_values()
    crowded = np.flatnonzero(~_well_separated(table))
    assert 0 < crowded.size < 16 and set(crowded) >= {124, 130}
    x = np.concatenate([[1.0], table[crowded]]).astype(np.float32)
    codes, state = qlab.quantize_blockwise(x, blocksize=x.size)
    assert not np.array_equal(qlab.dequantize_blockwise(codes, state), x)


def test_nonfinite_values_match_bitsandbytes(bnb_F):
    x = np.array([1, 2, np.nan, 3, 0, 0, 0, 0, np.inf, 1, 2, -3, -np.inf, 1, 0, 0], np.float32)
    codes, state = bnb_F.quantize_blockwise(torch.from_numpy(x), blocksize=4)
    ours, our_state = qlab.quantize_blockwise(x, blocksize=4, allow_nonfinite=True)
    assert np.array_equal(ours, codes.numpy())
    assert np.array_equal(our_state.absmax, state.absmax.numpy())
    assert np.array_equal(
        qlab.dequantize_blockwise(ours, our_state), bnb_F.dequantize_blockwise(codes, state).numpy()
    )
    with pytest.raises(ValueError, match="1 NaN and 2 Inf"):
        qlab.quantize_blockwise(x, blocksize=4)


def test_custom_code_table(bnb_F):
    code = np.linspace(-1, 1, 256, dtype=np.float32)
    x = make_data("heavy_tailed", (1000,))
    codes, state = bnb_F.quantize_blockwise(torch.from_numpy(x), code=torch.from_numpy(code), blocksize=64)
    ours, _ = qlab.quantize_blockwise(x, code=code, blocksize=64)
    assert np.array_equal(ours, codes.numpy())


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"blocksize": 0}, ValueError, "blocksize must be >= 1"),
        ({"blocksize": 2.5}, TypeError, "blocksize must be an integer"),
        ({"code": np.zeros(16, np.float32)}, ValueError, "256 entries"),
        ({"code": np.linspace(1, -1, 256)}, ValueError, "sorted ascending"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        qlab.quantize_blockwise(make_data("normal", (64,)), **kwargs)


def test_dequantize_rejects_mismatched_state():
    codes, state = qlab.quantize_blockwise(make_data("normal", (256,)), blocksize=64)
    with pytest.raises(ValueError, match="need 8 scales"):
        qlab.dequantize_blockwise(np.concatenate([codes, codes]), state)
    with pytest.raises(TypeError, match="uint8"):
        qlab.dequantize_blockwise(codes.astype(np.int16), state)


@pytest.mark.parametrize("blocksize", [64, 4096])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("nested", [False, True])
def test_parity_with_bitsandbytes_on_the_unsigned_dynamic_map(bnb_F, blocksize, dtype, nested):
    code = bnb_F.create_dynamic_map(signed=False)
    for i, kind in enumerate(DATA_KINDS):
        x = torch.from_numpy(np.abs(make_data(kind, (37, 301), seed=i))).to(dtype)
        codes, state = bnb_F.quantize_blockwise(x, code=code, blocksize=blocksize, nested=nested)
        ours, our_state = qlab.quantize_blockwise(x, code=code, blocksize=blocksize, nested=nested)
        assert torch.equal(ours, codes), kind
        assert torch.equal(our_state.absmax, state.absmax), kind
        assert torch.equal(
            qlab.dequantize_blockwise(ours, our_state), bnb_F.dequantize_blockwise(codes, state)
        )
