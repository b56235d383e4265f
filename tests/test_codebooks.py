"""The code tables match bitsandbytes exactly, and NF4 is rebuilt from normal quantiles."""

from __future__ import annotations

import numpy as np
import pytest

from qlab import codebooks


def test_create_normal_map_rebuilds_the_nf4_table_exactly():
    assert np.array_equal(codebooks.create_normal_map(), codebooks.NF4_CODE)
    assert codebooks.NF4_CODE.dtype == np.float32


@pytest.mark.parametrize("kwargs", [{}, {"use_extra_value": False}, {"offset": 0.99}, {"offset": 0.95}])
def test_create_normal_map_matches_bitsandbytes(bnb_F, kwargs):
    pytest.importorskip("scipy")  # bitsandbytes' version needs scipy; ours uses the standard library
    theirs = bnb_F.create_normal_map(**kwargs).numpy()
    ours = codebooks.create_normal_map(**kwargs)
    assert np.array_equal(np.unique(theirs), np.unique(ours))


def test_nf4_is_symmetric_in_count_and_holds_zero_and_both_ends():
    code = codebooks.NF4_CODE
    assert (code < 0).sum() == 7 and (code > 0).sum() == 8 and (code == 0).sum() == 1
    assert code[0] == -1 and code[-1] == 1 and np.all(np.diff(code) > 0)


@pytest.mark.parametrize(
    "kwargs", [{}, {"signed": False}, {"max_exponent_bits": 5}, {"max_exponent_bits": 4, "total_bits": 6}]
)
def test_dynamic_map_matches_bitsandbytes(bnb_F, kwargs):
    assert np.array_equal(codebooks.create_dynamic_map(**kwargs), bnb_F.create_dynamic_map(**kwargs).numpy())


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


def test_get_4bit_code_returns_a_copy_and_rejects_unknown_types():
    code = codebooks.get_4bit_code("nf4")
    code[0] = 5
    assert codebooks.NF4_CODE[0] == -1
    with pytest.raises(ValueError, match="quant_type"):
        codebooks.get_4bit_code("int4")
