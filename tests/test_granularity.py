"""Tests for qlab.granularity: grouping shapes, validation, scale counts and overhead."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qlab.granularity import effective_bits, make_grouping, scale_count, scale_overhead_bits


@pytest.mark.parametrize(
    ("shape", "axis", "group_size", "scale_shape", "kind"),
    [
        ((3, 4), None, None, (1, 1), "per-tensor"),
        ((3, 4), 0, None, (3, 1), "per-channel"),
        ((3, 4), 1, None, (1, 4), "per-channel"),
        ((3, 4), -1, None, (1, 4), "per-channel"),
        ((3, 4), -2, None, (3, 1), "per-channel"),
        ((3, 4), None, 2, (3, 2, 1), "group-wise"),
        ((2, 3, 4), 1, None, (1, 3, 1), "per-channel"),
        ((8,), None, 4, (2, 1), "group-wise"),
        ((8,), 0, None, (8,), "per-channel"),
    ],
)
def test_scale_shapes(shape, axis, group_size, scale_shape, kind):
    g = make_grouping(shape, axis, group_size)
    assert g.scale_shape == scale_shape
    assert g.kind == kind
    assert g.n_scales == math.prod(scale_shape)
    assert scale_count(shape, axis, group_size) == math.prod(scale_shape)


def test_negative_axis_is_normalized():
    assert make_grouping((3, 4, 5), axis=-1).axis == 2
    assert make_grouping((3, 4, 5), axis=-3).axis == 0


def test_linear_weight_axis0_is_one_scale_per_output_row():
    # (out, in) = (2, 3): axis=0 reduces over the input dimension.
    W = np.array([[1.0, -5.0, 2.0], [0.5, 0.25, -0.125]], dtype=np.float32)
    g = make_grouping(W.shape, axis=0)
    absmax = np.max(np.abs(g.split(W)), axis=g.reduce_axes, keepdims=True)
    np.testing.assert_array_equal(absmax, [[5.0], [0.5]])


def test_groupwise_split_takes_consecutive_values_of_the_last_axis():
    X = np.array([[1.0, 2.0, 10.0, 20.0], [-3.0, 0.0, 0.5, -0.25]], dtype=np.float32)
    g = make_grouping(X.shape, group_size=2)
    absmax = np.max(np.abs(g.split(X)), axis=g.reduce_axes, keepdims=True)
    np.testing.assert_array_equal(absmax[..., 0], [[2.0, 20.0], [3.0, 0.5]])
    np.testing.assert_array_equal(g.merge(g.split(X)), X)
    # broadcast repeats each group's value over its members
    np.testing.assert_array_equal(g.broadcast(absmax), [[2, 2, 20, 20], [3, 3, 0.5, 0.5]])


@given(
    shape=st.lists(st.integers(1, 5), min_size=1, max_size=4).map(tuple),
    data=st.data(),
)
def test_split_merge_roundtrip_and_reduction_matches_definition(shape, data):
    X = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    ndim = len(shape)
    choice = data.draw(st.sampled_from(["tensor", "channel", "group"]))
    axis = group_size = None
    if choice == "channel":
        axis = data.draw(st.integers(-ndim, ndim - 1))
    elif choice == "group":
        n = shape[-1]
        group_size = data.draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0]))
    g = make_grouping(shape, axis, group_size)
    np.testing.assert_array_equal(g.merge(g.split(X)), X)
    mx = np.max(g.split(X), axis=g.reduce_axes, keepdims=True)
    assert mx.shape == g.scale_shape
    full = g.broadcast(mx)
    assert full.shape == X.shape
    assert np.all(full >= X)  # every element is <= the max of its group
    if choice == "tensor":
        assert np.all(full == X.max())
    elif choice == "channel":
        np.testing.assert_array_equal(
            np.squeeze(mx), np.squeeze(np.moveaxis(X, axis, 0).reshape(shape[axis], -1).max(1))
        )
    else:
        np.testing.assert_array_equal(mx.reshape(-1), X.reshape(-1, group_size).max(1))


def test_errors():
    with pytest.raises(ValueError, match="either axis .* or group_size"):
        make_grouping((4, 8), axis=0, group_size=4)
    with pytest.raises(ValueError, match=r"axis 2 is out of range .*-2\.\.1"):
        make_grouping((4, 8), axis=2)
    with pytest.raises(ValueError, match="out of range"):
        make_grouping((4, 8), axis=-3)
    with pytest.raises(ValueError, match=r"length 100\).*e\.g\. .*20, 25"):
        make_grouping((3, 100), group_size=48)
    with pytest.raises(ValueError, match=">= 1"):
        make_grouping((4, 8), group_size=0)
    with pytest.raises(TypeError, match="integer"):
        make_grouping((4, 8), axis=0.0)
    with pytest.raises(TypeError, match="integer"):
        make_grouping((4, 8), group_size=4.0)
    with pytest.raises(ValueError, match="0-D"):
        make_grouping((), group_size=1)


def test_divisor_suggestions_are_divisors():
    with pytest.raises(ValueError) as info:
        make_grouping((7, 96), group_size=40)
    suggested = [int(s) for s in str(info.value).split("e.g. ")[1].split(", ")]
    assert suggested and all(96 % d == 0 for d in suggested)
    assert 32 in suggested and 48 in suggested


def test_scale_overhead_and_effective_bits():
    # int4 with an fp16 scale per 32 values: 4 + 16/32
    assert effective_bits(4, (4096, 4096), group_size=32, scale_bits=16) == 4.5
    # NF4-like: 4 bits + fp32 absmax per 64
    assert effective_bits(4, (64, 128), group_size=64) == 4.5
    # int8 zero-point in groups of 64: a float32 scale and an int8 zero point per group
    assert effective_bits(8, (4096, 4096), group_size=64, scale_bits=32 + 8) == 8.625
    # int8 per tensor on 1024 x 1024 with one float32 scale
    assert effective_bits(8, (1024, 1024)) == 8 + 32 / 2**20
    # per output channel of a (4096, 11008) weight, fp16 scales
    assert scale_overhead_bits((4096, 11008), axis=0, scale_bits=16) == 16 * 4096 / (4096 * 11008)
    with pytest.raises(ValueError, match="no parameters"):
        scale_overhead_bits((0, 4))
