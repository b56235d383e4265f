"""Tests for qlab.floats: the hand-written bit arithmetic checked against numpy, torch and ml_dtypes."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qlab.floats import (
    FORMATS,
    FloatFormat,
    cast_to_format,
    compose,
    decompose,
    format_table,
    get_format,
    representable_values,
)

LIB = {
    "fp32": np.float32,
    "fp16": np.float16,
    "bf16": ml_dtypes.bfloat16,
    "fp8_e4m3": ml_dtypes.float8_e4m3fn,
    "fp8_e5m2": ml_dtypes.float8_e5m2,
    "fp4_e2m1": ml_dtypes.float4_e2m1fn,
}
UINT = {32: np.uint32, 16: np.uint16, 8: np.uint8, 4: np.uint8}
SMALL = ["fp8_e4m3", "fp8_e5m2", "fp4_e2m1"]


def finfo_for(name: str):
    """The reference library's finfo for each format, as the brief asks: numpy, torch or ml_dtypes."""
    return {
        "fp32": np.finfo(np.float32),
        "fp16": np.finfo(np.float16),
        "bf16": torch.finfo(torch.bfloat16),
        "fp8_e4m3": torch.finfo(torch.float8_e4m3fn),
        "fp8_e5m2": torch.finfo(torch.float8_e5m2),
        "fp4_e2m1": ml_dtypes.finfo(ml_dtypes.float4_e2m1fn),
    }[name]


def lib_codes(x: np.ndarray, name: str) -> np.ndarray:
    """Bit patterns ml_dtypes/numpy produce when casting float32 ``x`` to the format."""
    with np.errstate(over="ignore", invalid="ignore"):  # ml_dtypes warns on overflow and NaN casts
        return x.astype(np.float32).astype(LIB[name]).view(UINT[FORMATS[name].total_bits]).astype(np.int64)


def all_values(name: str, dtype=np.float64) -> np.ndarray:
    """Every bit pattern of a format, decoded by the library, indexed by code."""
    n = FORMATS[name].total_bits
    with np.errstate(invalid="ignore"):  # ml_dtypes warns when it widens NaN patterns
        return np.arange(2**n, dtype=UINT[n]).view(LIB[name]).astype(dtype)


def split(code: int, f: FloatFormat) -> tuple[int, int, int]:
    E, M = f.exponent_bits, f.mantissa_bits
    return code >> (E + M), (code >> M) & (2**E - 1), code & (2**M - 1)


def same(a: float, b: float) -> bool:
    """Equal as floats, NaN == NaN, and the sign of zero must match."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b and math.copysign(1, a) == math.copysign(1, b)


# --- the table ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMATS))
def test_format_properties_match_library_finfo(name):
    f, fi = FORMATS[name], finfo_for(name)
    assert f.total_bits == fi.bits
    assert f.max_value == float(fi.max)
    assert f.min_normal == float(fi.smallest_normal)
    assert f.epsilon == float(fi.eps)
    ml = ml_dtypes.finfo(LIB[name])  # ml_dtypes.finfo also gives smallest_subnormal for every format
    assert f.min_subnormal == float(ml.smallest_subnormal)
    assert (f.max_value, f.epsilon) == (float(ml.max), float(ml.eps))
    # digits of precision = -log10(unit roundoff), the unit roundoff being eps / 2
    assert f.decimal_digits == pytest.approx(-math.log10(float(fi.eps) / 2))
    assert f.library_dtype == np.dtype(LIB[name])


def test_format_table_rows_agree_with_library():
    rows = {r["name"]: r for r in format_table()}
    assert list(rows) == list(FORMATS)
    for name, row in rows.items():
        fi = finfo_for(name)
        assert row["bits"] == fi.bits
        assert (row["max"], row["min_normal"], row["epsilon"]) == (
            float(fi.max),
            float(fi.smallest_normal),
            float(fi.eps),
        )
        assert row["exponent_bits"] + row["mantissa_bits"] + 1 == row["bits"]
        assert math.isinf(compose(0, 2 ** row["exponent_bits"] - 1, 0, name)) == row["inf"]
    assert rows["fp32"]["decimal_digits"] == 7.22
    assert [r["name"] for r in format_table(["E4M3", "fp4"])] == ["fp8_e4m3", "fp4_e2m1"]


# --- representable values ----------------------------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_representable_values_equal_all_library_bit_patterns(name):
    lib = all_values(name)
    expected = np.unique(lib[np.isfinite(lib)]) + 0.0
    got = representable_values(name)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, expected)
    assert np.all(np.diff(got) > 0) and np.signbit(got).sum() == (got < 0).sum()  # one +0.0, no -0.0
    assert got.max() == FORMATS[name].max_value


def test_fp4_values_are_the_ocp_mx_list():
    half = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]  # OCP MX spec v1.0, table of E2M1 values
    np.testing.assert_array_equal(representable_values("fp4"), sorted({-v for v in half} | set(half)))


@pytest.mark.parametrize(
    ("fmt", "lib"), [(("fp6_e3m2", 3, 2, 3), "float6_e3m2fn"), (("fp6_e2m3", 2, 3, 1), "float6_e2m3fn")]
)
def test_custom_mx_fp6_format_matches_ml_dtypes(fmt, lib):
    f = FloatFormat(*fmt, has_inf=False, nan_style="none")
    lib_vals = np.arange(64, dtype=np.uint8).view(getattr(ml_dtypes, lib)).astype(np.float64)
    np.testing.assert_array_equal(representable_values(f), np.unique(lib_vals) + 0.0)
    assert f.max_value == float(ml_dtypes.finfo(getattr(ml_dtypes, lib)).max)


@pytest.mark.parametrize("name", ["fp16", "bf16", "fp32"])
def test_representable_values_refuses_wide_formats(name):
    with pytest.raises(ValueError, match="too many to list"):
        representable_values(name)


# --- compose / decompose on every bit pattern -------------------------------------------------


@pytest.mark.parametrize("name", SMALL)
def test_every_bit_pattern_composes_to_library_value_and_decomposes_back(name):
    f = FORMATS[name]
    lib = all_values(name)
    for code in range(2**f.total_bits):
        s, e, m = split(code, f)
        v = compose(s, e, m, name)
        assert same(v, float(lib[code])), (name, code)
        b = decompose(v, name)
        if math.isnan(v):
            assert b.kind == "nan" and math.isnan(b.value)
        else:
            assert (b.sign, b.exponent, b.mantissa, b.code) == (s, e, m, code)
            assert same(b.value, v) and b.kind != "nan"


def _check_round_trip(v: float, name: str) -> None:
    b = decompose(v, name)
    assert same(b.value, v)
    assert same(compose(b.sign, b.exponent, b.mantissa, name), v)
    assert b.code == int(lib_codes(np.array([v]), name)[0])


@given(st.floats(width=16, allow_nan=False))
def test_fp16_round_trip(v):
    _check_round_trip(v, "fp16")


@given(st.floats(width=32, allow_nan=False))
def test_fp32_round_trip(v):
    _check_round_trip(v, "fp32")


@given(st.integers(0, 2**16 - 1))
def test_bf16_round_trip(code):
    v = float(all_values("bf16")[code])
    if not math.isnan(v):
        _check_round_trip(v, "bf16")


# --- rounding ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", SMALL)
def test_rounding_matches_library_for_every_fp16_input(target):
    # Every fp16 value as input covers every tie of the fp8/fp4 grids, their overflow and underflow.
    x = all_values("fp16", np.float32)
    if target == "fp4_e2m1":
        x = x[~np.isnan(x)]
    expected = lib_codes(x, target)
    got = np.array([decompose(float(v), target).code for v in x])
    bad = np.flatnonzero(got != expected)
    assert bad.size == 0, f"fp16->{target}: first mismatch at {x[bad[:5]]}"


@settings(max_examples=300)
@given(st.floats(width=32, allow_nan=False))
def test_rounding_matches_library_for_float32_input(v):
    for name in ("fp16", "bf16", *SMALL):
        assert decompose(v, name).code == int(lib_codes(np.array([v]), name)[0]), name


@pytest.mark.parametrize(
    ("value", "name", "expected"),
    [
        (464.0, "e4m3", 448.0),  # halfway to the missing 480: ties to even mantissa 110
        (465.0, "e4m3", math.nan),  # E4M3FN has no inf: overflow is NaN
        (-math.inf, "e4m3", math.nan),
        (61440.0, "e5m2", math.inf),  # halfway between 57344 (odd) and 2^16 (even): overflow
        (61439.0, "e5m2", 57344.0),
        (0.25, "fp4", 0.0),  # tie between 0 and 0.5: to the even 0
        (0.75, "fp4", 1.0),  # tie between 0.5 (m=1) and 1.0 (m=0)
        (5.0, "fp4", 4.0),
        (-1e9, "fp4", -6.0),  # saturation
        (math.inf, "fp4", 6.0),
        (2.0**-150, "fp32", 0.0),  # half the smallest subnormal ties to 0
        (-(2.0**-150) * 1.5, "fp32", -(2.0**-149)),
        (65520.0, "fp16", math.inf),
        (65519.0, "fp16", 65504.0),
        (1 + 2.0**-11 + 2.0**-40, "fp16", 1 + 2.0**-10),  # rounds from the exact float64, not via float32
        (10**400, "fp32", math.inf),
    ],
)
def test_rounding_edge_cases(value, name, expected):
    assert same(decompose(value, name).value, expected)


# --- hand-worked examples ------------------------------------------------------------------------


def test_hand_worked_examples():
    b = decompose(0.15625, "fp32")  # 0.15625 = 1.25 · 2^-3 -> e = 124, m = 0.25 · 2^23
    assert b.bits == "0 01111100 01000000000000000000000"
    assert (b.sign, b.exponent, b.mantissa, b.kind, b.unbiased_exponent) == (0, 124, 2**21, "normal", -3)
    assert b.formula == "(-1)^0 · 2^(124 - 127) · (1 + 2097152/2^23) = 0.15625"
    assert b.code == 0x3E200000

    b = decompose(-2.0, "fp32")
    assert b.bits == "1 10000000 00000000000000000000000" and b.value == -2.0

    b = decompose(2.0**-149, "fp32")
    assert b.bits == "0 00000000 00000000000000000000001"
    assert (b.kind, b.unbiased_exponent) == ("subnormal", -126)
    assert b.formula == "(-1)^0 · 2^(1 - 127) · (0 + 1/2^23) = 1e-45".replace("1e-45", repr(2.0**-149))

    assert decompose(2.5, "fp16").bits == "0 10000 0100000000"
    assert decompose(448, "e4m3").bits == "0 1111 110"
    assert decompose(-6, "fp4").bits == "1 11 1"
    assert decompose(0.1, "bf16").value == 0.10009765625
    z = decompose(-0.0, "fp16")
    assert (z.kind, z.sign, z.unbiased_exponent) == ("zero", 1, None)
    assert decompose(math.inf, "fp16").kind == "inf" and "inf" in str(decompose(math.inf, "fp16"))
    assert decompose(1.0, "e5m2").input_value == 1.0


def test_decompose_accepts_numeric_scalars():
    for v in (3, np.float32(3.0), np.float16(3.0), torch.tensor(3.0), np.array(3.0), ml_dtypes.bfloat16(3)):
        assert decompose(v, "fp16").value == 3.0


# --- cast_to_format ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(FORMATS))
def test_cast_matches_ml_dtypes_torch_and_decompose(name):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(400) * 10.0 ** rng.uniform(-10, 6, 400)).astype(np.float32)
    x = np.concatenate([x, [0.0, -0.0, 464.0, 61440.0, 7e4, 1e30]]).astype(np.float32)
    got = cast_to_format(x, name)
    assert got.dtype == np.float32 and got.shape == x.shape
    with np.errstate(over="ignore", invalid="ignore"):
        np.testing.assert_array_equal(got, x.astype(LIB[name]).astype(np.float32))
    by_hand = np.array([decompose(float(v), name).value for v in x], dtype=np.float32)
    np.testing.assert_array_equal(got, by_hand)
    torch_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16, "fp8_e5m2": torch.float8_e5m2}.get(name)
    if (
        name == "fp8_e4m3"
    ):  # torch saturates where ml_dtypes gives NaN (module docstring); in range they agree
        torch_dtype, x = torch.float8_e4m3fn, x[np.abs(x) <= 464]
    if torch_dtype is not None:
        t = torch.from_numpy(x).to(torch_dtype).float().numpy()
        np.testing.assert_array_equal(cast_to_format(x, name), t)


def test_torch_e4m3_saturates_unlike_ml_dtypes():
    # Keeps the module docstring honest: if torch changes, update the note there.
    assert torch.tensor([1000.0]).to(torch.float8_e4m3fn).float().item() == 448.0
    assert np.isnan(cast_to_format(np.array([1000.0], dtype=np.float32), "e4m3")[0])


def test_cast_follows_input_type_and_special_values():
    t = cast_to_format(torch.tensor([0.1, 1000.0, -math.inf, math.nan], dtype=torch.bfloat16), "e5m2")
    assert isinstance(t, torch.Tensor) and t.dtype == torch.float32
    assert t[0].item() == 0.09375 and t[1].item() == 1024.0 and t[2].item() == -math.inf and t[3].isnan()
    x = np.array([math.inf, -math.inf, 1e300])  # float64, overflows float32 first: no warning escapes
    np.testing.assert_array_equal(cast_to_format(x, "fp4"), [6.0, -6.0, 6.0])
    assert np.isnan(cast_to_format(x, "e4m3")).all()
    np.testing.assert_array_equal(cast_to_format(x, "fp16"), [np.inf, -np.inf, np.inf])
    assert np.isnan(cast_to_format(np.array([np.nan], dtype=np.float32), "e4m3")[0])
    with pytest.raises(ValueError, match="no NaN encoding"):
        cast_to_format(np.array([1.0, np.nan], dtype=np.float32), "fp4_e2m1")
    with pytest.raises(TypeError, match="dtype int64"):
        cast_to_format(np.arange(3), "fp16")


# --- errors and names ----------------------------------------------------------------------------


def test_names_and_aliases():
    pairs = {"float32": "fp32", "Float16": "fp16", "BFLOAT16": "bf16", "e4m3": "fp8_e4m3", "E5M2": "fp8_e5m2"}
    pairs |= {"e2m1": "fp4_e2m1", "FP4": "fp4_e2m1", "float8_e4m3fn": "fp8_e4m3", "fp8_e4m3": "fp8_e4m3"}
    for alias, name in pairs.items():
        assert get_format(alias) is FORMATS[name]
    with pytest.raises(ValueError, match=r"unknown float format 'fp7'; valid names: fp32, fp16"):
        decompose(1.0, "fp7")
    with pytest.raises(TypeError, match="format name or FloatFormat"):
        get_format(8)


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((2, 0, 0, "fp32"), r"sign must be >= 0 and <= 1"),
        ((0, 256, 0, "fp32"), r"exponent must be >= 0 and <= 255"),
        ((0, 0, 8, "e4m3"), r"mantissa must be >= 0 and <= 7"),
        ((0, 4, 0, "fp4"), r"exponent must be >= 0 and <= 3"),
        ((0, -1, 0, "fp16"), r"exponent must be >= 0 and <= 31"),
    ],
)
def test_compose_field_ranges(args, match):
    with pytest.raises(ValueError, match=match):
        compose(*args)


def test_bad_values_raise_clear_errors():
    for bad in ("1.0", None, True, 1 + 2j, [1.0], np.array([1.0, 2.0])):
        with pytest.raises(TypeError, match="decompose: value must be"):
            decompose(bad, "fp16")
    with pytest.raises(TypeError, match="sign must be an integer"):
        compose(0.0, 0, 0)
    with pytest.raises(ValueError, match="fp4_e2m1 has no NaN encoding"):
        decompose(math.nan, "fp4")
    with pytest.raises(ValueError, match="nan_style"):
        FloatFormat("x", 4, 3, 7, False, "ocp")
    with pytest.raises(ValueError, match="has_inf"):
        FloatFormat("x", 4, 3, 7, True, "fn")


# --- languages -----------------------------------------------------------------------------------


def test_decompose_speaks_turkish_and_defaults_to_english():
    en, tr = decompose(2.0**-9, "e4m3"), decompose(2.0**-9, "e4m3", lang="tr")
    assert en.lang == "en" and tr.lang == "tr"
    assert (en.sign, en.exponent, en.mantissa, en.kind, en.value) == (
        tr.sign,
        tr.exponent,
        tr.mantissa,
        tr.kind,
        tr.value,
    )
    assert en.formula == "(-1)^0 · 2^(1 - 7) · (0 + 1/2^3) = 0.001953125"
    assert tr.formula == "(-1)^0 · 2^(1 - 7) · (0 + 1/2^3) = 0,001953125"
    assert str(en) == "fp8_e4m3: 0 0000 001  (subnormal)  " + en.formula
    assert str(tr) == "fp8_e4m3: 0 0000 001  (alt normal)  " + tr.formula
    assert decompose(2.0**-9, "e4m3", "en") == en  # lang is also the third positional argument
    assert decompose(448, "e4m3", lang="tr").formula.endswith("= 448,0")
    big = decompose(2.0**120 * (1 + 127 / 128), "bf16", lang="tr").formula
    assert big.endswith("= 2,648071397852762e+36") and "." not in big


@pytest.mark.parametrize(
    ("value", "fmt", "en", "tr"),
    [
        (
            math.inf,
            "fp16",
            "(-1)^0 · inf (exponent all ones, mantissa 0)",
            "(-1)^0 · ∞ (üs bitlerinin hepsi 1, mantis 0)",
        ),
        (
            -math.inf,
            "e5m2",
            "(-1)^1 · inf (exponent all ones, mantissa 0)",
            "(-1)^1 · ∞ (üs bitlerinin hepsi 1, mantis 0)",
        ),
        (
            math.nan,
            "bf16",
            "NaN (exponent all ones, mantissa != 0)",
            "NaN (üs bitlerinin hepsi 1, mantis ≠ 0)",
        ),
        (1000.0, "e4m3", "NaN (exponent and mantissa all ones)", "NaN (üs ve mantis bitlerinin hepsi 1)"),
    ],
)
def test_special_value_formulas_in_both_languages(value, fmt, en, tr):
    assert decompose(value, fmt).formula == en
    assert decompose(value, fmt, lang="tr").formula == tr


def test_kind_labels_in_both_languages():
    samples = {"normal": 1.0, "subnormal": 2.0**-20, "zero": -0.0, "inf": math.inf, "nan": math.nan}
    labels = {
        k: (decompose(v, "fp16").kind_label, decompose(v, "fp16", lang="tr").kind_label)
        for k, v in samples.items()
    }
    assert {k: en for k, (en, _) in labels.items()} == {k: k for k in samples}  # English: the kind itself
    assert (
        labels["subnormal"][1] == "alt normal"
        and labels["zero"][1] == "sıfır"
        and labels["inf"][1] == "sonsuz"
    )
    for kind, value in samples.items():
        assert decompose(value, "fp16", lang="tr").kind == kind  # the identifier does not change


def test_decompose_rejects_unknown_language():
    with pytest.raises(ValueError, match="unknown language 'de'"):
        decompose(1.0, "fp16", lang="de")


# --- facts the lesson states ---------------------------------------------------------------------


def test_e4m3_has_one_nan_pattern_per_sign():
    codes = [c for c in range(256) if math.isnan(compose(*split(c, FORMATS["fp8_e4m3"]), "fp8_e4m3"))]
    assert codes == [0x7F, 0xFF]
    lib = all_values("fp8_e4m3")
    assert np.flatnonzero(np.isnan(lib)).tolist() == codes


def test_fp32_to_bf16_overflows_from_the_halfway_point():
    # BF16's largest value is (2 - 2^-7)·2^127; halfway to 2^128 is (2 - 2^-8)·2^127, a float32 value.
    halfway = np.float32((2 - 2.0**-8) * 2.0**127)
    below = np.nextafter(halfway, np.float32(0))
    got = cast_to_format(np.array([below, halfway, np.finfo(np.float32).max], dtype=np.float32), "bf16")
    assert got[0] == FORMATS["bf16"].max_value and np.isinf(got[1:]).all()
    assert (
        decompose(float(halfway), "bf16").kind == "inf" and decompose(float(below), "bf16").kind == "normal"
    )
    assert f"{halfway:.4e}" == "3.3962e+38"


def test_lesson_decode_exercise_matches_compose_and_names_each_mistake():
    # Lesson 01's exercise 4: its reference decoder is compose() on every E4M3 pattern, and each
    # typical wrong decoder gets its own hint (two mistakes agree on subnormals; order matters).
    from qlab.exercises import REGISTRY
    from qlab.lessons import l01_number_formats as l01

    f = FORMATS["fp8_e4m3"]
    for code in range(256):
        s, e, m = split(code, f)
        bits = f"{s} {e:04b} {m:03b}"
        assert same(l01.decode_reference(bits, "fp8_e4m3"), compose(s, e, m, "fp8_e4m3"))
    checker = REGISTRY["01.decode"].checker
    expected = {
        l01.forgot_bias: "ex.01.decode.no_bias",
        l01.bias_off_by_one: "ex.01.decode.bias_formula",
        l01.forgot_implicit_one: "ex.01.decode.implicit_one",
        l01.one_on_subnormals: "ex.01.decode.subnormal_one",
        l01.subnormal_exponent_minus_bias: "ex.01.decode.subnormal_exponent",
        l01.no_subnormal_case: "ex.01.decode.no_subnormal_case",
        l01.forgot_sign: "ex.01.decode.sign",
    }
    assert {fn: checker(fn) for fn in expected} == expected
    assert checker(l01.decode_reference) is None
    assert checker(lambda bits, fmt: None) == "ex.01.decode.returns_none"
