"""qlab.quantize_4bit / dequantize_4bit: bit parity with bitsandbytes, properties, clear errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from conftest import DATA_KINDS, make_data
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import qlab
from qlab.fourbit import BLOCKSIZES, double_quantize

DTYPES = (torch.float32, torch.float16, torch.bfloat16)
SHAPES = ((4096,), (37, 301), (3, 5, 7), (1,), (2, 33), (64, 130))


def bnb_dequantize_flat(F, packed, state, n):
    """bitsandbytes' dequantization of the flattened tensor (its AVX512 kernel mis-indexes
    absmax for some 2-D shapes; for a flat shape it is correct, see README)."""
    flat = F.QuantState(
        absmax=state.absmax,
        shape=torch.Size([n]),
        dtype=state.dtype,
        blocksize=state.blocksize,
        quant_type=state.quant_type,
        code=state.code,
        offset=state.offset,
        state2=state.state2,
    )
    return F.dequantize_4bit(packed, flat).reshape(-1)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("blocksize", BLOCKSIZES)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_parity_with_bitsandbytes_over_shapes_and_data(bnb_F, quant_type, blocksize, dtype):
    for i, (shape, kind) in enumerate(itertools.product(SHAPES, DATA_KINDS)):
        x = torch.from_numpy(make_data(kind, shape, seed=i)).to(dtype)
        packed, state = bnb_F.quantize_4bit(x, blocksize=blocksize, quant_type=quant_type)
        ours, our_state = qlab.quantize_4bit(x, quant_type=quant_type, blocksize=blocksize)
        assert torch.equal(ours, packed), (shape, kind)
        assert torch.equal(our_state.absmax, state.absmax), (shape, kind)
        back = qlab.dequantize_4bit(ours, our_state)
        assert back.dtype == dtype and back.shape == x.shape
        assert torch.equal(back.reshape(-1), bnb_dequantize_flat(bnb_F, packed, state, x.numel())), (
            shape,
            kind,
        )


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("blocksize", [32, 64, 256])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_double_quantization_parity(bnb_F, quant_type, blocksize, dtype):
    for i, kind in enumerate(("normal", "heavy_tailed", "outlier", "all_zero")):
        # enough blocks that the scales fill more than one nested block of 256
        x = torch.from_numpy(make_data(kind, (blocksize * 300 + 7,), seed=i)).to(dtype)
        packed, state = bnb_F.quantize_4bit(
            x, blocksize=blocksize, quant_type=quant_type, compress_statistics=True
        )
        ours, our_state = qlab.quantize_4bit(
            x, quant_type=quant_type, blocksize=blocksize, compress_statistics=True
        )
        assert torch.equal(ours, packed)
        assert float(our_state.offset) == float(state.offset)
        assert torch.equal(our_state.absmax, state.absmax)  # the 8-bit codes of the scales
        assert torch.equal(our_state.state2.absmax, state.state2.absmax)
        assert torch.equal(our_state.state2.code, state.state2.code)
        assert torch.equal(
            qlab.dequantize_4bit(ours, our_state), bnb_dequantize_flat(bnb_F, packed, state, x.numel())
        )


def test_double_quantization_with_a_given_offset_reproduces_bitsandbytes_codes(bnb_F):
    x = torch.from_numpy(make_data("heavy_tailed", (64 * 1000,)))
    _, state = bnb_F.quantize_4bit(x, blocksize=64, quant_type="nf4")
    _, nested = bnb_F.quantize_4bit(x, blocksize=64, quant_type="nf4", compress_statistics=True)
    offset, codes, state2 = double_quantize(state.absmax.numpy(), offset=float(nested.offset))
    assert np.array_equal(codes, nested.absmax.numpy())
    assert np.array_equal(state2.absmax, nested.state2.absmax.numpy())


def test_packed_bytes_are_the_same_with_and_without_double_quantization():
    x = make_data("normal", (128, 64))
    plain, _ = qlab.quantize_4bit(x)
    nested, _ = qlab.quantize_4bit(x, compress_statistics=True)
    assert np.array_equal(plain, nested)


def test_bits_per_parameter_from_stored_bytes():
    x = make_data("normal", (4096, 4096))
    n = x.size
    packed, state = qlab.quantize_4bit(x, blocksize=64)
    assert qlab.bits_per_parameter((packed, state), n) == 4.5
    packed, state = qlab.quantize_4bit(x, blocksize=64, compress_statistics=True)
    expected = 4 + 8 / 64 + 32 / (64 * 256) + 32 / n  # codes, 8-bit scales, nested scales, offset
    assert qlab.bits_per_parameter((packed, state), n) == pytest.approx(expected, rel=1e-12)
    assert 4.12 < expected < 4.13


def test_hand_worked_nf4_block():
    # absmax 2.0; 0.5 -> scaled 0.25 -> nearest NF4 value 0.2461 (code 10) -> 0.4922
    x = np.array([2.0, 0.5, -2.0, 0.0], dtype=np.float32)
    packed, state = qlab.quantize_4bit(x, quant_type="nf4", blocksize=32)
    assert packed.reshape(-1).tolist() == [(15 << 4) | 10, (0 << 4) | 7]
    assert state.absmax.tolist() == [2.0]
    back = qlab.dequantize_4bit(packed, state)
    assert back.tolist() == pytest.approx([2.0, 0.4922246, -2.0, 0.0], abs=1e-6)


def test_fp4_zero_and_tiny_values_follow_bitsandbytes():
    # +0.0 and tiny negatives -> pattern 0 (+0); tiny positives -> pattern 8 (-0): the stable sort
    # of the table puts +0 first, and a tie-free value just above the 0 midpoint takes the next entry
    x = np.array([1.0, 0.0, 0.001, -0.001], dtype=np.float32)
    packed, _ = qlab.quantize_4bit(x, quant_type="fp4", blocksize=32)
    assert packed.reshape(-1).tolist() == [(3 << 4) | 0, (8 << 4) | 0]


@settings(max_examples=60, deadline=None)
@given(
    data=arrays(np.float32, st.integers(1, 300), elements=st.floats(-1e4, 1e4, width=32)),
    quant_type=st.sampled_from(["nf4", "fp4"]),
    blocksize=st.sampled_from([32, 64, 128]),
)
def test_round_trip_error_is_at_most_half_the_widest_gap_times_the_scale(data, quant_type, blocksize):
    packed, state = qlab.quantize_4bit(data, quant_type=quant_type, blocksize=blocksize)
    back = qlab.dequantize_4bit(packed, state)
    code = np.sort(qlab.get_4bit_code(quant_type))
    # values below the smallest |code| step or above: worst case is half the widest gap
    half_gap = np.diff(code).max() / 2
    scales = np.repeat(state.absmax, blocksize)[: data.size].astype(np.float64)
    err = np.abs(back.astype(np.float64) - data.astype(np.float64))
    assert np.all(err <= half_gap * scales * (1 + 1e-6) + 1e-30)


@settings(max_examples=40, deadline=None)
@given(
    codes=arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 15)),
    scale=st.floats(1 / 1024, 1024, width=32),
    quant_type=st.sampled_from(["nf4", "fp4"]),
)
def test_representable_values_survive_a_round_trip_exactly(codes, scale, quant_type):
    table = qlab.get_4bit_code(quant_type)
    x = (table[codes] * np.float32(scale)).astype(np.float32)
    x[0] = np.float32(scale)  # make the block absmax exactly `scale` (table holds 1.0)
    packed, state = qlab.quantize_4bit(x, quant_type=quant_type, blocksize=256)
    # each x/s lands (within rounding) on its own table value t, so it comes back as fl(t · s) == x
    assert np.array_equal(qlab.dequantize_4bit(packed, state), x)


def test_output_type_follows_input_type():
    x = make_data("normal", (8, 64))
    packed, state = qlab.quantize_4bit(x)
    assert isinstance(packed, np.ndarray) and isinstance(state.absmax, np.ndarray)
    packed_t, state_t = qlab.quantize_4bit(torch.from_numpy(x))
    assert isinstance(packed_t, torch.Tensor) and isinstance(state_t.absmax, torch.Tensor)
    assert np.array_equal(packed_t.numpy(), packed)
    assert isinstance(qlab.dequantize_4bit(packed_t, state_t), torch.Tensor)


def test_strided_and_negative_stride_views_equal_contiguous_copies():
    x = make_data("heavy_tailed", (64, 128))
    for view in (x[:, ::2], x[::-1], x.T, x[::-1, ::-3]):
        assert np.array_equal(qlab.quantize_4bit(view)[0], qlab.quantize_4bit(np.ascontiguousarray(view))[0])
    t = torch.from_numpy(x)
    assert torch.equal(qlab.quantize_4bit(t.T)[0], qlab.quantize_4bit(t.T.contiguous())[0])
    assert torch.equal(qlab.quantize_4bit(t.flip(0))[0], qlab.quantize_4bit(t.flip(0).contiguous())[0])


def test_nan_and_inf_raise_with_count_and_position():
    x = make_data("normal", (4, 64))
    x[1, 3] = np.nan
    x[2, 5] = np.inf
    with pytest.raises(ValueError, match=r"1 NaN and 1 Inf value\(s\), the first at index \(1, 3\)"):
        qlab.quantize_4bit(x)


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_allow_nonfinite_reproduces_bitsandbytes_exactly(bnb_F, quant_type):
    x = make_data("normal", (3 * 64 + 10,))
    x[5], x[70] = np.nan, np.inf
    x[140], x[-2] = -np.inf, np.nan  # the last, short block too
    t = torch.from_numpy(x)
    packed, state = bnb_F.quantize_4bit(t, blocksize=64, quant_type=quant_type)
    ours, our_state = qlab.quantize_4bit(t, quant_type=quant_type, blocksize=64, allow_nonfinite=True)
    assert torch.equal(ours, packed)
    assert torch.equal(
        our_state.absmax,
        state.absmax,
    ) or torch.allclose(our_state.absmax, state.absmax, equal_nan=True)
    ref = bnb_dequantize_flat(bnb_F, packed, state, x.size)
    assert torch.allclose(qlab.dequantize_4bit(ours, our_state), ref, equal_nan=True, rtol=0, atol=0)


@pytest.mark.parametrize(
    ("A", "kwargs", "error", "match"),
    [
        (np.zeros((0, 4), np.float32), {}, ValueError, "empty"),
        (np.arange(64), {}, TypeError, "dtype int64"),
        (np.ones(64, dtype=bool), {}, TypeError, "dtype bool"),
        (np.array(["a"] * 64, dtype=object), {}, TypeError, "dtype object"),
        (np.ones(64, np.float64), {}, TypeError, "float64"),
        (np.ones(64, np.float32), {"blocksize": 16}, ValueError, "invalid blocksize 16; choose one of 32"),
        (np.ones(64, np.float32), {"blocksize": 8192}, ValueError, "invalid blocksize"),
        (np.ones(64, np.float32), {"quant_type": "int4"}, ValueError, "unknown quant_type 'int4'"),
        (np.ones(64, np.float32), {"backend": "cuda"}, ValueError, "unknown backend"),
        ("weights", {}, TypeError, "numpy array or torch tensor"),
    ],
)
def test_bad_input_gives_a_clear_error(A, kwargs, error, match):
    with pytest.raises(error, match=match):
        qlab.quantize_4bit(A, **kwargs)


def test_dequantize_checks_its_inputs():
    packed, state = qlab.quantize_4bit(make_data("normal", (64,)))
    with pytest.raises(TypeError, match="QuantState"):
        qlab.dequantize_4bit(packed, {"absmax": 1})
    with pytest.raises(TypeError, match="uint8"):
        qlab.dequantize_4bit(packed.astype(np.int32), state)
    with pytest.raises(ValueError, match="needs 32 packed bytes"):
        qlab.dequantize_4bit(packed[:10], state)


def test_bitsandbytes_backend_gives_the_same_results_on_cpu():
    x = make_data("heavy_tailed", (16, 256))
    ours = qlab.quantize_4bit(x, quant_type="nf4", blocksize=64, compress_statistics=True)
    theirs = qlab.quantize_4bit(
        x, quant_type="nf4", blocksize=64, compress_statistics=True, backend="bitsandbytes"
    )
    assert isinstance(theirs[0], np.ndarray)
    assert np.array_equal(ours[0], theirs[0])
    assert np.array_equal(ours[1].absmax, theirs[1].absmax)
    flat = (theirs[0], theirs[1])
    back_bnb = qlab.dequantize_4bit(*flat, backend="bitsandbytes")
    assert np.array_equal(qlab.dequantize_4bit(*ours), back_bnb)
