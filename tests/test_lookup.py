"""The float-bits lookup gives exactly the searchsorted answer, for every kind of float32."""

from __future__ import annotations

import numpy as np
import pytest

from qlab import lookup


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_codes_of_equals_the_exact_rule_on_every_16_bit_prefix(quant_type):
    rng = np.random.default_rng(0)
    prefixes = np.arange(1 << 16, dtype=np.uint32) << 16
    low_bits = rng.integers(0, 1 << 16, size=(4, prefixes.size), dtype=np.uint32)
    patterns = np.concatenate([prefixes, prefixes | 0xFFFF, (prefixes | low_bits).ravel()])
    values = patterns.view(np.float32)  # includes ±0, subnormals, ±inf and NaNs
    with np.errstate(invalid="ignore"):
        assert np.array_equal(lookup.codes_of(values, quant_type), lookup.exact_codes(values, quant_type))


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
def test_midpoints_and_their_neighbours(quant_type):
    midpoints, _ = lookup.sorted_table(quant_type)
    values = np.concatenate([midpoints, np.nextafter(midpoints, 2), np.nextafter(midpoints, -2)]).astype(
        np.float32
    )
    assert np.array_equal(lookup.codes_of(values, quant_type), lookup.exact_codes(values, quant_type))


def test_pack_nibbles_puts_the_first_code_in_the_high_nibble():
    codes = np.array([1, 2, 15, 0, 7, 9], dtype=np.uint8)
    assert lookup.pack_nibbles(codes).tolist() == [0x12, 0xF0, 0x79]
    every_pair = np.stack(np.meshgrid(np.arange(16), np.arange(16)), -1).reshape(-1).astype(np.uint8)
    packed = lookup.pack_nibbles(every_pair)
    assert np.array_equal(packed >> 4, every_pair[0::2]) and np.array_equal(packed & 15, every_pair[1::2])
