"""qlab as a drop-in for bitsandbytes.functional on CPU: signatures, quant_storage, states, documented calls.

Written for qlab (issue 13); no code is taken from bitsandbytes' test suite.
"""

from __future__ import annotations

import inspect

import ml_dtypes
import numpy as np
import pytest
import torch
from conftest import make_data

import qlab
from qlab import blockwise, codebooks, fourbit, llm_int8

MIRRORED = {
    "quantize_4bit": fourbit.quantize_4bit,
    "dequantize_4bit": fourbit.dequantize_4bit,
    "quantize_nf4": fourbit.quantize_nf4,
    "quantize_fp4": fourbit.quantize_fp4,
    "dequantize_nf4": fourbit.dequantize_nf4,
    "dequantize_fp4": fourbit.dequantize_fp4,
    "quantize_blockwise": blockwise.quantize_blockwise,
    "dequantize_blockwise": blockwise.dequantize_blockwise,
    "int8_vectorwise_quant": llm_int8.int8_vectorwise_quant,
    "int8_vectorwise_dequant": llm_int8.int8_vectorwise_dequant,
    "create_normal_map": codebooks.create_normal_map,
    "create_dynamic_map": codebooks.create_dynamic_map,
    "create_linear_map": codebooks.create_linear_map,
    "create_fp8_map": codebooks.create_fp8_map,
    "get_4bit_type": codebooks.get_4bit_type,
}
QLAB_EXTRAS = {"backend", "allow_nonfinite", "kwargs"}
STORAGES = (torch.uint8, torch.float16, torch.bfloat16, torch.float32)


def _positional(fn):
    return [
        (p.name, p.default)
        for p in inspect.signature(fn).parameters.values()
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]


@pytest.mark.parametrize("name", sorted(MIRRORED))
def test_signature_is_bitsandbytes(bnb_F, name):
    ours, theirs = MIRRORED[name], getattr(bnb_F, name)
    assert _positional(ours) == _positional(theirs)  # names, order and defaults
    for p in inspect.signature(ours).parameters.values():
        if p.kind not in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            assert p.name in QLAB_EXTRAS and p.kind in (p.KEYWORD_ONLY, p.VAR_KEYWORD), p
    assert getattr(qlab, name) is ours


def test_qlab_extras_are_keyword_only():
    params = inspect.signature(qlab.quantize_4bit).parameters
    assert params["backend"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["allow_nonfinite"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["quant_type"].default == "fp4" and params["blocksize"].default is None
    assert params["quant_storage"].default is torch.uint8


def test_quant_state_constructor_and_methods_are_bitsandbytes(bnb_F):
    assert _positional(qlab.QuantState) == _positional(bnb_F.QuantState)
    assert _positional(qlab.QuantState.as_dict) == _positional(bnb_F.QuantState.as_dict)
    ours = [n for n, _ in _positional(qlab.QuantState.from_dict)]
    assert ours == [n for n, _ in _positional(bnb_F.QuantState.from_dict)]
    assert qlab.QuantState.valid_qs_keys == bnb_F.QuantState.valid_qs_keys
    assert qlab.BlockwiseState is qlab.QuantState


def test_defaults_are_fp4_and_blocksize_64(bnb_F):
    x = torch.from_numpy(make_data("normal", (4, 128)))
    packed, state = qlab.quantize_4bit(x)
    ref, ref_state = bnb_F.quantize_4bit(x)
    assert state.quant_type == ref_state.quant_type == "fp4" and state.blocksize == 64
    assert torch.equal(packed, ref)
    assert torch.equal(qlab.dequantize_4bit(packed, state), bnb_F.dequantize_4bit(ref, ref_state))


def test_positional_order_is_bitsandbytes(bnb_F):
    x = torch.from_numpy(make_data("heavy_tailed", (8, 256)))
    # quantize_4bit(A, absmax, out, blocksize, compress_statistics, quant_type, quant_storage)
    ours = qlab.quantize_4bit(x, None, None, 128, True, "nf4", torch.bfloat16)
    theirs = bnb_F.quantize_4bit(x, None, None, 128, True, "nf4", torch.bfloat16)
    assert torch.equal(ours[0].view(torch.uint8), theirs[0].view(torch.uint8))
    assert ours[1].blocksize == 128 and ours[1].nested and ours[1].quant_type == "nf4"
    # dequantize_4bit(A, quant_state, absmax, out, blocksize, quant_type)
    assert torch.equal(qlab.dequantize_4bit(ours[0], ours[1]), bnb_F.dequantize_4bit(*theirs))
    # quantize_blockwise(A, code, absmax, out, blocksize, nested)
    codes, state = qlab.quantize_blockwise(x, None, None, None, 64, True)
    ref, ref_state = bnb_F.quantize_blockwise(x, None, None, None, 64, True)
    assert torch.equal(codes, ref) and state.blocksize == 64 and state.nested
    assert torch.equal(qlab.dequantize_blockwise(codes, state), bnb_F.dequantize_blockwise(ref, ref_state))
    # the bitsandbytes backend gets the same positional arguments
    via_bnb = qlab.quantize_4bit(x, None, None, 128, True, "nf4", torch.bfloat16, backend="bitsandbytes")
    assert torch.equal(
        via_bnb[0], ours[0].view(torch.bfloat16) if ours[0].dtype != torch.bfloat16 else ours[0]
    )


@pytest.mark.parametrize("storage", STORAGES, ids=str)
@pytest.mark.parametrize("dtype", (torch.float32, torch.float16, torch.bfloat16), ids=str)
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_quant_storage_round_trip_matches_bitsandbytes(bnb_F, storage, dtype, quant_type):
    x = torch.from_numpy(make_data("normal", (64, 96), seed=3)).to(dtype)
    packed, state = qlab.quantize_4bit(x, quant_type=quant_type, quant_storage=storage)
    ref, ref_state = bnb_F.quantize_4bit(x, quant_type=quant_type, quant_storage=storage)
    assert packed.dtype == storage and packed.shape == ref.shape
    assert torch.equal(packed.view(torch.uint8), ref.view(torch.uint8))
    back = qlab.dequantize_4bit(packed, state)
    assert back.dtype == dtype and back.shape == x.shape
    flat_ref = qlab.dequantize_4bit(ref.view(torch.uint8), state)  # uint8 view: same bytes
    assert torch.equal(back, flat_ref)
    # bitsandbytes dequantizes qlab's stored codes (flat shape: its AVX512 kernel mis-indexes some 2-D shapes)
    flat_state = bnb_F.QuantState(
        absmax=ref_state.absmax,
        shape=torch.Size([x.numel()]),
        blocksize=64,
        quant_type=quant_type,
        dtype=dtype,
    )
    assert torch.equal(bnb_F.dequantize_4bit(packed, flat_state).reshape(-1), back.reshape(-1))


@pytest.mark.parametrize("storage", (np.uint8, np.float16, ml_dtypes.bfloat16, np.float32), ids=str)
def test_quant_storage_on_numpy(storage):
    x = make_data("heavy_tailed", (32, 64))
    packed, state = qlab.quantize_4bit(x, quant_type="nf4", quant_storage=storage)
    plain, _ = qlab.quantize_4bit(x, quant_type="nf4")
    assert packed.dtype == np.dtype(storage) and packed.shape == (plain.size // np.dtype(storage).itemsize, 1)
    assert np.array_equal(packed.reshape(-1).view(np.uint8), plain.reshape(-1))
    assert np.array_equal(qlab.dequantize_4bit(packed, state), qlab.dequantize_4bit(plain, state))


def test_quant_storage_errors_are_clear():
    with pytest.raises(ValueError, match="quant_storage must be one of uint8, float16, bfloat16, float32"):
        qlab.quantize_4bit(make_data("normal", (64,)), quant_storage=torch.int32)
    with pytest.raises(ValueError, match="cannot be viewed as float32"):
        qlab.quantize_4bit(make_data("normal", (6,)), quant_storage=torch.float32)


@pytest.mark.parametrize("nested", [False, True])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_as_dict_from_dict_round_trip_and_cross_library(bnb_F, nested, packed, quant_type):
    x = torch.from_numpy(make_data("heavy_tailed", (300 * 64 + 10,), seed=5))
    codes, state = qlab.quantize_4bit(x, quant_type=quant_type, compress_statistics=nested)
    ref_codes, ref_state = bnb_F.quantize_4bit(x, quant_type=quant_type, compress_statistics=nested)
    ours_d, theirs_d = state.as_dict(packed=packed), ref_state.as_dict(packed=packed)
    assert ours_d.keys() == theirs_d.keys()
    for key, value in theirs_d.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(ours_d[key], value), key
            assert ours_d[key].dtype == value.dtype, key
        else:
            assert ours_d[key] == value, key
    back = qlab.dequantize_4bit(codes, state)
    # qlab -> qlab
    assert torch.equal(qlab.dequantize_4bit(codes, qlab.QuantState.from_dict(ours_d, device="cpu")), back)
    assert qlab.QuantState.from_dict(ours_d, device="cpu") == state
    # qlab's dict -> bitsandbytes' QuantState -> bitsandbytes dequantizes it
    # (its CPU kernel returns 1-D results with shape (1, n), hence the reshape)
    theirs_from_ours = bnb_F.QuantState.from_dict(dict(ours_d), device=torch.device("cpu"))
    assert torch.equal(bnb_F.dequantize_4bit(ref_codes, theirs_from_ours).reshape(back.shape), back)
    # bitsandbytes' dict -> qlab's QuantState -> qlab dequantizes it
    ours_from_theirs = qlab.QuantState.from_dict(theirs_d, device="cpu")
    assert isinstance(ours_from_theirs, qlab.QuantState) and ours_from_theirs.dtype == torch.float32
    assert torch.equal(qlab.dequantize_4bit(ref_codes, ours_from_theirs), back)


def test_states_are_accepted_directly_by_the_other_library(bnb_F):
    x = torch.from_numpy(make_data("normal", (4096,), seed=2)).to(torch.bfloat16)
    codes, state = qlab.quantize_4bit(x, quant_type="nf4", compress_statistics=True)
    assert state.dtype == torch.bfloat16 and state.shape == torch.Size([4096])
    ref_codes, ref_state = bnb_F.quantize_4bit(x, quant_type="nf4", compress_statistics=True)
    ours_back = qlab.dequantize_4bit(ref_codes, ref_state)
    assert torch.equal(bnb_F.dequantize_4bit(codes, state).reshape(ours_back.shape), ours_back)
    assert state == ref_state  # (bitsandbytes compares only its own class)
    bcodes, bstate = qlab.quantize_blockwise(x, blocksize=256, nested=True)
    assert torch.equal(bnb_F.dequantize_blockwise(bcodes, bstate), qlab.dequantize_blockwise(bcodes, bstate))


def test_packed_key_is_readable_as_an_attribute(bnb_F):
    x = torch.from_numpy(make_data("normal", (64, 64)))
    _, state = qlab.quantize_4bit(x, quant_type="nf4")
    _, ref_state = bnb_F.quantize_4bit(x, quant_type="nf4")
    assert torch.equal(state.bitsandbytes__nf4, ref_state.bitsandbytes__nf4)
    assert not hasattr(state, "bitsandbytes__fp4") and not hasattr(state, "nonexistent")


def test_numpy_states_serialize_too():
    x = make_data("normal", (128, 64))
    codes, state = qlab.quantize_4bit(x, quant_type="nf4", compress_statistics=True)
    d = state.as_dict(packed=True)
    assert all(isinstance(v, np.ndarray) for v in d.values()) and "quant_state.bitsandbytes__nf4" in d
    again = qlab.QuantState.from_dict(d)
    assert isinstance(again.absmax, np.ndarray) and again.shape == (128, 64) and again.dtype == np.float32
    assert np.array_equal(qlab.dequantize_4bit(codes, again), qlab.dequantize_4bit(codes, state))
    with pytest.raises(ValueError, match="found neither"):
        qlab.QuantState.from_dict({"absmax": codes})


def test_absmax_and_out_are_filled_like_bitsandbytes(bnb_F):
    x = torch.from_numpy(make_data("normal", (16, 128)))
    out = torch.empty((x.numel() // 2, 1), dtype=torch.uint8)
    absmax = torch.empty(x.numel() // 64)
    packed, state = qlab.quantize_4bit(x, absmax=absmax, out=out, quant_type="nf4")
    ref, ref_state = bnb_F.quantize_4bit(x, quant_type="nf4")
    assert packed is out and state.absmax is absmax
    assert torch.equal(out, ref) and torch.equal(absmax, ref_state.absmax)
    codes_out = torch.empty(x.shape, dtype=torch.uint8)
    codes, _ = qlab.quantize_blockwise(x, out=codes_out, blocksize=256)
    assert codes is codes_out and torch.equal(codes, bnb_F.quantize_blockwise(x, blocksize=256)[0])


@pytest.mark.parametrize("dtype", (torch.float32, torch.float16, torch.bfloat16), ids=str)
def test_state_free_dequantize_4bit_with_absmax_and_out(bnb_F, dtype):
    x = torch.from_numpy(make_data("heavy_tailed", (8, 256))).to(dtype)
    packed, state = qlab.quantize_4bit(x, blocksize=128, quant_type="nf4")
    out = torch.empty(x.shape, dtype=dtype)
    result = qlab.dequantize_4bit(packed, absmax=state.absmax, out=out, blocksize=128, quant_type="nf4")
    assert result is out and torch.equal(out, qlab.dequantize_4bit(packed, state))
    # the same state-free call in bitsandbytes' own pure-torch kernel
    ref = torch.ops.bitsandbytes.dequantize_4bit.default(
        packed, state.absmax, 128, "nf4", list(x.shape), dtype
    )
    assert torch.equal(out.reshape(-1), ref.reshape(-1))
    with pytest.raises(ValueError, match="both absmax= .* and out="):
        qlab.dequantize_4bit(packed, absmax=state.absmax)
    x_np = make_data("normal", (256,))
    p_np, s_np = qlab.quantize_4bit(x_np)  # fp4, 64
    out_np = np.empty(256, np.float32)
    assert qlab.dequantize_4bit(p_np, absmax=s_np.absmax, out=out_np) is out_np
    assert np.array_equal(out_np, qlab.dequantize_4bit(p_np, s_np))


def test_state_free_dequantize_blockwise(bnb_F):
    x = torch.from_numpy(make_data("normal", (1000,)))
    codes, state = qlab.quantize_blockwise(x, blocksize=128)
    ours = qlab.dequantize_blockwise(codes, absmax=state.absmax, blocksize=128)
    assert torch.equal(ours, bnb_F.dequantize_blockwise(codes, absmax=state.absmax, blocksize=128))
    assert torch.equal(ours, qlab.dequantize_blockwise(codes, state))
    with pytest.raises(ValueError, match="pass quant_state"):
        qlab.dequantize_blockwise(codes)
    out = torch.empty(1000)
    assert qlab.dequantize_blockwise(codes, state, out=out) is out and torch.equal(out, ours)


def test_nested_absmax_always_uses_the_default_signed_map(bnb_F):
    x = torch.rand(4096 * 64, generator=torch.Generator().manual_seed(0))
    code = bnb_F.create_dynamic_map(signed=False)
    ref, ref_state = bnb_F.quantize_blockwise(x, code=code, blocksize=64, nested=True)
    ours, state = qlab.quantize_blockwise(x, code=code, blocksize=64, nested=True)
    assert torch.equal(ours, ref)
    assert torch.equal(state.absmax, ref_state.absmax)  # the 4,096 nested codes
    assert torch.equal(state.state2.code, codebooks.create_dynamic_map())
    assert torch.equal(state.code, code)
    assert torch.equal(qlab.dequantize_blockwise(ours, state), bnb_F.dequantize_blockwise(ref, ref_state))


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("dtype", (torch.float32, torch.float16, torch.bfloat16), ids=str)
def test_dynamic_maps_signed_and_unsigned_match_bitsandbytes_on_a_million_values(bnb_F, signed, dtype):
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(1 << 20, generator=gen) if not signed else torch.randn(1 << 20, generator=gen)).to(dtype)
    code = bnb_F.create_dynamic_map(signed=signed)
    ref, ref_state = bnb_F.quantize_blockwise(x, code=code, blocksize=4096)
    ours, state = qlab.quantize_blockwise(x, code=code, blocksize=4096)
    assert torch.equal(ours, ref)
    assert torch.equal(qlab.dequantize_blockwise(ours, state), bnb_F.dequantize_blockwise(ref, ref_state))


def test_lookup_bin_centres_are_float32_like_bitsandbytes():
    i = np.arange(65536, dtype=np.float32)
    centres = np.float32(-1) + (np.float32(2) * i) / np.float32(65535)
    float64_centres = (np.arange(65536) / 65535 * 2 - 1).astype(np.float32)
    assert not np.array_equal(centres, float64_centres)  # the two ways differ, so the choice matters
    code = codebooks.dynamic_map_values(signed=False)
    midpoints = (code[:-1] + code[1:]) * np.float32(0.5)
    expected = np.searchsorted(midpoints, centres, side="left")
    assert np.array_equal(blockwise._bin_table(code.tobytes()), expected)


def test_documentation_style_calls_work_unchanged(bnb_F):
    """Calls as bitsandbytes' docs write them, with qlab in place of bitsandbytes.functional."""
    F = qlab  # import qlab as F
    W = torch.randn(256, 128, generator=torch.Generator().manual_seed(0), dtype=torch.float16)
    qW, quant_state = F.quantize_4bit(W, blocksize=64, compress_statistics=True, quant_type="nf4")
    W_dq = F.dequantize_4bit(qW, quant_state)
    assert W_dq.dtype == torch.float16 and W_dq.shape == W.shape
    assert torch.equal(W_dq, bnb_F.dequantize_4bit(*bnb_F.quantize_4bit(W, None, None, 64, True, "nf4")))
    qW, quant_state = F.quantize_nf4(W)
    assert torch.equal(F.dequantize_nf4(qW, quant_state), bnb_F.dequantize_nf4(*bnb_F.quantize_nf4(W)))
    C, S = F.quantize_blockwise(W)
    assert torch.equal(F.dequantize_blockwise(C, S), bnb_F.dequantize_blockwise(*bnb_F.quantize_blockwise(W)))
    CA, SCA, outlier_cols = F.int8_vectorwise_quant(W, threshold=6.0)
    ref = bnb_F.int8_vectorwise_quant(W.clone(), threshold=6.0)
    assert torch.equal(CA, ref[0]) and torch.equal(SCA, ref[1]) and torch.equal(outlier_cols, ref[2])
    assert torch.equal(F.int8_vectorwise_dequant(CA, SCA), bnb_F.int8_vectorwise_dequant(ref[0], ref[1]))
    assert torch.equal(F.create_normal_map(), bnb_F.create_normal_map())
    assert torch.equal(F.get_4bit_type("nf4", device="cpu"), bnb_F.get_4bit_type("nf4", device="cpu"))


def test_int8_vectorwise_quant_is_more_general_on_3d_input(bnb_F):
    x = make_data("outlier", (2, 3, 64))
    with pytest.raises(RuntimeError):  # bitsandbytes' CPU code takes the row maximum over axis 1
        bnb_F.int8_vectorwise_quant(torch.from_numpy(x))
    codes, stats, _ = qlab.int8_vectorwise_quant(x)
    flat_codes, flat_stats, _ = qlab.int8_vectorwise_quant(x.reshape(6, 64))
    assert codes.shape == x.shape and stats.shape == (6,)
    assert np.array_equal(codes.reshape(6, 64), flat_codes) and np.array_equal(stats, flat_stats)
