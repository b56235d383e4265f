"""qlab.ggml against the gguf package's gguf.quants (itself tested against libggml), bit for bit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qlab import ggml

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import quants  # noqa: E402

LEGACY = ggml.QUANTIZE_TYPES
KQUANTS = ("Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K")


def _data(kind: str, shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "normal":
        x = rng.normal(0, 0.02, shape)
    elif kind == "heavy_tailed":
        x = rng.standard_t(2, shape)
    elif kind == "all_zero":
        x = np.zeros(shape)
    elif kind == "constant":
        x = np.full(shape, -0.75)
    elif kind == "tiny":
        x = rng.normal(0, 1, shape) * 1e-30
    elif kind == "huge":  # as large as float16 scales and mins allow (|x| < 65504)
        x = np.clip(rng.normal(0, 1, shape) * 1e4, -65000, 65000)
    elif kind == "ties":  # many values exactly halfway between two codes
        x = np.round(rng.normal(0, 4, shape)) / 2
    elif kind == "one_sign":
        x = np.abs(rng.normal(0, 1, shape)) + 3
    else:
        raise ValueError(kind)
    return x.astype(np.float32)


KINDS = ("normal", "heavy_tailed", "all_zero", "constant", "tiny", "huge", "ties", "one_sign")


@pytest.mark.parametrize("qtype", LEGACY)
@pytest.mark.parametrize("kind", KINDS)
def test_quantize_bytes_and_values_equal_gguf(qtype, kind):
    x = _data(kind, (6, 256))
    ours, theirs = ggml.quantize(x, qtype), quants.quantize(x, getattr(T, qtype))
    assert ours.dtype == np.uint8 and ours.shape == theirs.shape
    assert np.array_equal(ours, theirs)
    values = ggml.dequantize(ours, qtype)
    assert values.dtype == np.float32 and values.shape == x.shape
    assert np.array_equal(values, quants.dequantize(theirs, getattr(T, qtype)))


@settings(max_examples=60, deadline=None)
@given(
    qtype=st.sampled_from(LEGACY),
    x=hnp.arrays(
        np.float32,
        st.tuples(st.integers(1, 3), st.sampled_from([32, 64, 96])),
        elements=st.floats(-1000, 1000, width=32),
    ),
)
def test_quantize_equals_gguf_on_arbitrary_data(qtype, x):
    ours = ggml.quantize(x, qtype)  # never warns (warnings are errors in the tests)
    with warnings.catch_warnings():  # gguf's numpy reference warns on blocks with a subnormal scale
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.array_equal(ours, quants.quantize(x, getattr(T, qtype)))


@pytest.mark.parametrize("qtype", LEGACY)
def test_blocks_with_a_subnormal_scale_quantize_silently_like_gguf(qtype):
    """Found by hypothesis: |x| = 1.2e-38 gives d = max/127 below float32's normal range, 1/d = inf."""
    x = np.full((1, 64), 1.1754944e-38, np.float32)
    x[0, 0] = 0.0
    ours = ggml.quantize(x, qtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        assert np.array_equal(ours, quants.quantize(x, getattr(T, qtype)))
    assert np.all(ggml.dequantize(ours, qtype) == 0)  # the float16 scale is 0: the block reads back as zeros


@pytest.mark.parametrize("qtype", LEGACY + KQUANTS)
def test_dequantize_arbitrary_blocks_equals_gguf(qtype):
    """Random bytes in every field (finite float16 scales): the decoders agree on every bit."""
    rng = np.random.default_rng(1)
    layout = ggml.LAYOUTS[qtype]
    raw = rng.integers(0, 256, (64, layout.type_size), dtype=np.uint8)
    start = 0
    for field, n in layout.fields:
        if field in ("d", "dmin", "m"):
            raw[:, start : start + n] = rng.normal(0, 0.05, (64, 1)).astype(np.float16).view(np.uint8)
        start += n
    data = raw.reshape(8, -1)
    ours = ggml.dequantize(data, qtype)
    assert ours.shape == (8, 8 * layout.block_size)
    assert np.array_equal(ours, quants.dequantize(data, getattr(T, qtype)))


def test_nibble_order_is_low_first():
    """Element j sits in the low nibble of byte j, element j + 16 in its high nibble."""
    x = np.arange(32, dtype=np.float32).reshape(1, 32)  # min 0, max 31: Q4_1 codes round(j / 31 * 15)
    block = ggml.quantize(x, "Q4_1")[0]
    d = block[0:2].view(np.float16)[0]
    m = block[2:4].view(np.float16)[0]
    codes = np.rint(x[0] / (31 / 15)).astype(np.uint8)
    assert float(m) == 0.0 and np.isclose(float(d), 31 / 15, rtol=1e-3)
    assert np.array_equal(block[4:] & 0x0F, codes[:16]) and np.array_equal(block[4:] >> 4, codes[16:])


@pytest.mark.parametrize(
    ("qtype", "bits"),
    [
        ("Q4_0", 4.5),
        ("Q4_1", 5.0),
        ("Q5_0", 5.5),
        ("Q5_1", 6.0),
        ("Q8_0", 8.5),
        ("Q2_K", 2.625),
        ("Q3_K", 3.4375),
        ("Q4_K", 4.5),
        ("Q5_K", 5.5),
        ("Q6_K", 6.5625),
    ],
)
def test_bits_per_weight_match_gguf_sizes(qtype, bits):
    block, size = gguf.GGML_QUANT_SIZES[getattr(T, qtype)]
    assert (ggml.LAYOUTS[qtype].block_size, ggml.LAYOUTS[qtype].type_size) == (block, size)
    assert ggml.bits_per_weight(qtype) == bits == 8 * size / block
    assert ggml.bits_per_weight(getattr(T, qtype)) == bits  # gguf's enum is accepted too
    assert ggml.bytes_per_row(4096, qtype) == 4096 // block * size


def test_simple_q4_k_decodes_in_gguf_and_is_close():
    x = _data("normal", (8, 512), seed=3)
    data = ggml.quantize_q4_k(x)
    assert data.shape == (8, 2 * 144)
    ours = ggml.dequantize(data, "Q4_K")
    assert np.array_equal(ours, quants.dequantize(data, T.Q4_K))
    # per sub-block of 32 the error is at most about half a step of that sub-block's grid
    step = (x.reshape(-1, 32).max(1) - np.minimum(x.reshape(-1, 32).min(1), 0)) / 15
    err = np.abs(ours - x).reshape(-1, 32).max(1)
    assert np.all(err <= 0.75 * step + 1e-6)
    # and as good as Q4_1 (same 4-bit codes per 32, but quantized scales) within 0.5 dB
    sqnr = lambda y: 10 * np.log10(np.sum(x**2) / np.sum((x - y) ** 2))  # noqa: E731
    q41 = ggml.dequantize(ggml.quantize(x, "Q4_1"), "Q4_1")
    assert abs(sqnr(ours) - sqnr(q41)) < 0.5


def test_simple_q4_k_on_edge_data():
    for kind in ("all_zero", "constant", "one_sign", "tiny"):
        x = _data(kind, (2, 256))
        values = ggml.dequantize(ggml.quantize_q4_k(x), "Q4_K")
        assert np.all(np.isfinite(values))
        if kind == "all_zero":
            assert np.array_equal(values, x)


def test_beyond_float16_range_stores_inf_without_warning():
    x = np.full((1, 32), 1e7, np.float32)  # Q8_0's d = 1e7 / 127 does not fit a float16
    values = ggml.dequantize(ggml.quantize(x, "Q8_0"), "Q8_0")
    assert np.all(np.isinf(values))  # what llama.cpp would store, too


def test_torch_input_and_1d():
    torch = pytest.importorskip("torch")
    x = _data("normal", (1, 64))[0]
    assert np.array_equal(ggml.quantize(torch.from_numpy(x), "Q8_0"), quants.quantize(x, T.Q8_0))
    assert ggml.quantize(x, "Q8_0").shape == (68,)


def test_real_gguf_tensors_decode_like_gguf():
    """SmolLM2's shipped GGUF: Q4_1 and Q8_0 tensors decode exactly as gguf.quants decodes them."""
    from qlab.models.loading import SMOLLM2_FILE, SMOLLM2_PACKAGE, SMOLLM2_PIP, package_dir

    try:
        path = package_dir(SMOLLM2_PACKAGE, SMOLLM2_PIP) / SMOLLM2_FILE
    except Exception as error:  # the model package is optional outside `make test`
        pytest.skip(str(error))
    reader = gguf.GGUFReader(path)
    seen = set()
    for tensor in reader.tensors:
        name = tensor.tensor_type.name
        if name in ("Q4_1", "Q8_0") and name not in seen:
            seen.add(name)
            data = np.asarray(tensor.data)[:512]  # the first 512 rows: enough, and fast
            assert np.array_equal(ggml.dequantize(data, name), quants.dequantize(data, tensor.tensor_type))
            # and re-quantizing the decoded weights reproduces the stored bytes for Q8_0 exactly
            if name == "Q8_0":
                assert np.array_equal(ggml.quantize(ggml.dequantize(data, name), name), data)
    assert seen == {"Q4_1", "Q8_0"}


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: ggml.quantize(np.ones(33, np.float32), "Q4_0"), ValueError, "multiple of 32"),
        (lambda: ggml.quantize(np.ones(32, np.float32), "Q4_K"), ValueError, "unknown type 'Q4_K'"),
        (lambda: ggml.quantize(np.full(32, np.nan, np.float32), "Q8_0"), ValueError, "NaN"),
        (lambda: ggml.quantize(np.ones(32, np.int32), "Q8_0"), TypeError, "int32"),
        (lambda: ggml.quantize(np.ones(0, np.float32), "Q8_0"), ValueError, "empty"),
        (lambda: ggml.dequantize(np.zeros(17, np.uint8), "Q4_0"), ValueError, "whole Q4_0 blocks of 18"),
        (lambda: ggml.dequantize(np.zeros(18, np.int8), "Q4_0"), TypeError, "uint8"),
        (lambda: ggml.dequantize(np.zeros(18, np.uint8), "Q7_0"), ValueError, "unknown type"),
        (lambda: ggml.quantize_q4_k(np.ones(128, np.float32)), ValueError, "multiple of 256"),
        (lambda: ggml.bytes_per_row(100, "Q4_0"), ValueError, "multiple of 32"),
    ],
)
def test_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
