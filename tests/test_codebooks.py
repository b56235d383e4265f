"""The code tables match bitsandbytes exactly (values, layout, type), and NF4 is rebuilt from quantiles."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from qlab import codebooks


def test_nf4_values_rebuild_the_nf4_table_exactly():
    assert np.array_equal(codebooks.nf4_values(), codebooks.NF4_CODE)
    assert codebooks.NF4_CODE.dtype == np.float32 and codebooks.nf4_values().dtype == np.float32


@pytest.mark.parametrize("kwargs", [{}, {"use_extra_value": False}, {"offset": 0.99}, {"offset": 0.95}])
def test_create_normal_map_is_bitsandbytes_256_entry_tensor(bnb_F, kwargs):
    pytest.importorskip("scipy")  # bitsandbytes' version needs scipy; ours uses the standard library
    theirs = bnb_F.create_normal_map(**kwargs)
    ours = codebooks.create_normal_map(**kwargs)
    assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float32 and ours.shape == (256,)
    assert torch.equal(ours, theirs)
    # the same values as the 16-entry numpy table, padded with zeros in the middle
    assert np.array_equal(np.unique(ours.numpy()), np.unique(codebooks.nf4_values(**kwargs)))


def test_create_normal_map_layout_is_7_negatives_zeros_8_positives():
    table = codebooks.create_normal_map().numpy()
    assert np.array_equal(table[:7], codebooks.NF4_CODE[:7])
    assert np.all(table[7:248] == 0)
    assert np.array_equal(table[248:], codebooks.NF4_CODE[8:])


def test_nf4_has_7_negative_values_zero_and_8_positive_values():
    code = codebooks.NF4_CODE
    assert (code < 0).sum() == 7 and (code > 0).sum() == 8 and (code == 0).sum() == 1
    assert code[0] == -1 and code[-1] == 1 and np.all(np.diff(code) > 0)
    assert (codebooks.nf4_values(use_extra_value=False) == 0).sum() == 2  # 7 + 2 zeros + 7


def _bnb_or_error(fn, *args):
    try:
        return fn(*args)
    except (AssertionError, NameError, ValueError) as exc:
        return type(exc)


def test_dynamic_map_matches_bitsandbytes_on_every_small_argument_combination(bnb_F):
    # where bitsandbytes asserts (impossible combinations), qlab raises a clear ValueError
    for signed, exp_bits, total in itertools.product([True, False], range(1, 9), range(2, 9)):
        theirs = _bnb_or_error(bnb_F.create_dynamic_map, signed, exp_bits, total)
        if isinstance(theirs, type):
            with pytest.raises(ValueError, match=f"hold exactly {2**total}"):
                codebooks.create_dynamic_map(signed, exp_bits, total)
        else:
            ours = codebooks.create_dynamic_map(signed, exp_bits, total)
            assert isinstance(ours, torch.Tensor) and ours.dtype == torch.float32
            assert torch.equal(ours, theirs), (signed, exp_bits, total)


def test_dynamic_map_8_exponent_bits_truncates_the_count_like_bitsandbytes():
    table = codebooks.create_dynamic_map(True, 8, 8)
    assert table.numel() == 256  # qlab used to return 258 values here
    assert torch.equal(table, torch.sort(table).values)
    with pytest.raises(ValueError, match="describe 257 codes, but 8 bits hold exactly 256.*can be 7\\."):
        codebooks.create_dynamic_map(False, 9, 8)
    with pytest.raises(ValueError, match="max_exponent_bits must be >= 1"):
        codebooks.create_dynamic_map(True, 0, 8)


def test_dynamic_map_values_is_the_numpy_copy():
    values = codebooks.dynamic_map_values(signed=False)
    assert isinstance(values, np.ndarray) and values.dtype == np.float32
    assert np.array_equal(values, codebooks.create_dynamic_map(signed=False).numpy())
    values[0] = 7  # a copy: the cached table is untouched
    assert codebooks.dynamic_map_values(signed=False)[0] == 0


@pytest.mark.parametrize(
    ("signed", "bits", "add_zero"), list(itertools.product([True, False], [2, 4, 8], [True, False]))
)
def test_create_linear_map_matches_bitsandbytes(bnb_F, signed, bits, add_zero):
    assert torch.equal(
        codebooks.create_linear_map(signed, bits, add_zero), bnb_F.create_linear_map(signed, bits, add_zero)
    )


@pytest.mark.parametrize("args", [(), (True, 4, 3, 8), (True, 2, 1, 4), (False, 4, 4, 8), (True, 3, 0, 4)])
def test_create_fp8_map_matches_bitsandbytes(bnb_F, args):
    assert torch.equal(codebooks.create_fp8_map(*args), bnb_F.create_fp8_map(*args))


def test_create_fp8_map_rejects_bit_counts_that_do_not_add_up():
    with pytest.raises(ValueError, match="must add up to total_bits=8"):
        codebooks.create_fp8_map(True, 4, 4, 8)


@pytest.mark.parametrize("typename", ["nf4", "fp4", "af4"])
def test_get_4bit_type_matches_bitsandbytes(bnb_F, typename):
    ours = codebooks.get_4bit_type(typename)
    assert ours.device.type == "cpu" and ours.dtype == torch.float32
    theirs = bnb_F.get_4bit_type(typename, device="cpu")
    assert torch.equal(ours, theirs)
    assert np.array_equal(np.signbit(ours.numpy()), np.signbit(theirs.numpy()))  # +0.0 at FP4 index 8


def test_get_4bit_type_int4_works_and_bad_names_raise():
    expected = torch.tensor([7, 6, 5, 4, 3, 2, 1, 0, 0, -1, -2, -3, -4, -5, -6, -7], dtype=torch.float32) / 7
    assert torch.equal(codebooks.get_4bit_type("int4"), expected)
    with pytest.raises(ValueError, match="typename"):
        codebooks.get_4bit_type("nf3")
    with pytest.raises(ValueError, match="blocksize 64 only"):
        codebooks.get_4bit_type("af4", blocksize=128)


def test_fp4_table_decodes_from_its_bit_fields(bnb_F):
    # bitsandbytes' FP4 pattern s e1 e0 m: exponent field e = 1, 2, 3 stands for 2^3, 2^2, 2^1
    # (its own order), e = 0 is the subnormal 0.0625 · m; then everything is divided by 12.
    decoded = []
    for pattern in range(16):
        sign, exponent, mantissa = pattern >> 3, (pattern >> 1) & 0b11, pattern & 1
        magnitude = 0.0625 * mantissa if exponent == 0 else 2.0 ** (4 - exponent) * (1 + mantissa / 2)
        decoded.append(-magnitude if sign else magnitude)
    expected = (np.array(decoded, dtype=np.float32) / np.float32(12)).astype(np.float32)
    assert np.array_equal(codebooks.FP4_CODE, expected)
    assert np.array_equal(np.signbit(codebooks.FP4_CODE), np.signbit(expected))  # pattern 8 is -0.0
    bnb_table = bnb_F.get_4bit_type("fp4", device="cpu").numpy()
    assert np.array_equal(codebooks.FP4_CODE, bnb_table)  # -0.0 == +0.0 at index 8


def test_fp4_is_not_ocp_e2m1():
    # OCP MX E2M1 magnitudes in bit order 0b000..0b111: 0, 0.5, 1, 1.5, 2, 3, 4, 6 (exponent increasing)
    e2m1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], dtype=np.float32)
    fp4 = codebooks.FP4_CODE[:8] * 12
    assert not np.array_equal(np.sort(fp4 / fp4.max()), np.sort(e2m1 / e2m1.max()))  # different value sets
    assert fp4[1] == 0.0625 and fp4[1] / fp4.max() < e2m1[1] / e2m1.max()  # much smaller subnormal
    assert np.all(np.diff(fp4[2::2]) < 0)  # bitsandbytes' exponent field runs downwards (8, 4, 2)
    assert np.all(np.diff(e2m1[2::2]) > 0)  # E2M1's runs upwards (1, 2, 4)


def test_get_4bit_code_returns_a_copy_and_rejects_unknown_types():
    code = codebooks.get_4bit_code("nf4")
    code[0] = 5
    assert codebooks.NF4_CODE[0] == -1
    with pytest.raises(ValueError, match="quant_type"):
        codebooks.get_4bit_code("int4")


@pytest.fixture(scope="module")
def minilm_query_weight():
    """One real weight matrix of all-MiniLM-L6-v2, read straight from its checked safetensors file."""
    pytest.importorskip("safetensors")
    from safetensors.numpy import load_file

    from qlab.models import loading

    try:
        model_dir = loading.package_dir(loading.MINILM_PACKAGE, loading.MINILM_PIP) / "model"
    except loading.ModelFilesError:
        pytest.skip("all-MiniLM-L6-v2 is not installed")
    path = model_dir / loading.MINILM_FILE
    loading.verify_sha256(path, loading.MINILM_SHA256, loading.MINILM_PIP)
    tensors = load_file(path)
    key = next(k for k in tensors if k.endswith("layer.0.attention.self.query.weight"))
    return tensors[key].astype(np.float32)


def test_nf4_codes_are_not_used_equally_often_on_real_blocks(minilm_query_weight):
    """The docstring's claim, on a real layer at blocksize 64: not equiprobable (uniform would be 6.25 %)."""
    from qlab.fourbit import quantize_blocks

    x = minilm_query_weight.reshape(-1)
    packed, _ = quantize_blocks(x, 64, "nf4")
    codes = np.stack([packed >> 4, packed & 15], axis=1).reshape(-1)[: x.size]
    share = np.bincount(codes, minlength=16) / x.size
    assert share.argmax() in (6, 7) and 0.09 < share.max() < 0.10  # the codes next to zero: ~9.5 %
    assert share.argmin() in (0, 15) and share.min() < 0.02  # -1 and +1: under 2 %
    entropy = -(share * np.log2(share)).sum()
    assert 3.85 < entropy < 3.90  # bits, not 4
    assert codebooks.__doc__ is not None and "3.84 bits" in codebooks.__doc__
