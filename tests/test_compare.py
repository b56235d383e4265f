"""``qlab compare`` on the real MiniLM: the orderings asserted here were measured, not hoped for.

Measured (128 shipped sentences, 2 cores; issue 7, 2026-12-01):
per-tensor INT8 absmax cos 0.969 / NN 0.805, per-channel 0.9995 / 0.961, zero-point per-tensor 0.987,
INT4 absmax g64 0.946, INT4 zero-point g64 0.964 / 0.836, FP4 0.937, NF4 0.969, NF4+DQ 0.969,
LLM.int8() 0.999. SmolLM2 perplexity: see the paired intervals in the SmolLM2 test below.
"""

from __future__ import annotations

import math
import re
import socket

import pytest

from qlab.__main__ import main as qlab_main
from qlab.compare import CompareRow, format_table, run_compare, smollm2_legend

pytestmark = pytest.mark.slow


class NetworkUsed(AssertionError):
    pass


@pytest.fixture(scope="module")
def rows() -> dict[str, CompareRow]:
    """The whole comparison, run with the network switched off: any connection attempt fails the test."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"qlab compare tried to open a network connection: {args[1:] or kwargs}")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        return {r.format: r for r in run_compare("minilm", progress=False)}


def test_every_format_has_a_row(rows):
    from qlab.models.quantize import FORMATS

    assert list(rows) == list(FORMATS)
    fp32 = rows["fp32"]
    assert fp32.mean_cosine == pytest.approx(1.0, abs=1e-6) and fp32.nn_agreement == 1.0
    assert fp32.bits_per_parameter == 32.0 and fp32.model_mb == pytest.approx(90.86, abs=0.01)
    assert all(r.perplexity is None and r.seconds > 0 for r in rows.values())


def test_granularity_orderings(rows):
    tensor, channel = rows["int8-absmax-tensor"], rows["int8-absmax-channel"]
    # the heavy-tailed FFN down-projections ruin one scale per tensor
    assert channel.mean_cosine > 0.999 > 0.98 > tensor.mean_cosine > 0.95
    assert channel.nn_agreement > tensor.nn_agreement + 0.1
    assert channel.weight_sqnr_db > tensor.weight_sqnr_db + 15
    assert rows["int8-absmax-g64"].weight_sqnr_db > channel.weight_sqnr_db
    # zero-point helps per tensor (it uses all 256 codes), and per-channel beats both
    assert channel.mean_cosine > rows["int8-zeropoint-tensor"].mean_cosine > tensor.mean_cosine
    assert rows["int8-zeropoint-channel"].mean_cosine > 0.999


def test_four_bit_orderings(rows):
    nf4, fp4, int4 = rows["nf4"], rows["fp4"], rows["int4-absmax-g64"]
    int4_zp = rows["int4-zeropoint-g64"]
    assert nf4.mean_cosine > int4_zp.mean_cosine > int4.mean_cosine > fp4.mean_cosine
    # asymmetric INT4 uses all 16 levels: clearly better than absmax INT4 (15 levels), close to NF4
    assert int4_zp.weight_sqnr_db > int4.weight_sqnr_db + 1
    assert int4_zp.mean_cosine > int4.mean_cosine + 0.01 and nf4.mean_cosine - int4_zp.mean_cosine < 0.01
    assert int4_zp.bits_per_parameter == 4 + (32 + 4) / 64
    assert nf4.nn_agreement > fp4.nn_agreement
    assert nf4.weight_sqnr_db > int4.weight_sqnr_db > fp4.weight_sqnr_db
    # double quantization: fewer bits, practically the same model
    dq = rows["nf4-dq"]
    assert dq.bits_per_parameter < 4.13 < nf4.bits_per_parameter == 4.5
    assert dq.mean_cosine == pytest.approx(nf4.mean_cosine, abs=1e-3)
    # every 8-bit per-channel/group format beats every 4-bit format
    eight = [rows[n] for n in ("int8-absmax-channel", "int8-absmax-g64", "int8-zeropoint-g64", "llm-int8")]
    assert min(r.mean_cosine for r in eight) > max(r.mean_cosine for r in (nf4, fp4, int4, int4_zp, dq))


def test_llm_int8_and_footprints(rows):
    assert rows["llm-int8"].mean_cosine > 0.998
    assert rows["llm-int8"].bits_per_parameter == pytest.approx(
        rows["int8-absmax-channel"].bits_per_parameter
    )
    # the fp32 word embeddings (47 MB) stay: the model shrinks far less than its Linear weights
    assert 58 < rows["int8-absmax-tensor"].model_mb < 59 and 53 < rows["nf4"].model_mb < 54
    assert rows["nf4-dq"].model_mb < rows["nf4"].model_mb


def test_table_in_both_languages(rows):
    ordered = list(rows.values())
    en = format_table(ordered, "en")
    tr = format_table(ordered, "tr")
    assert en.splitlines()[0].split()[:2] == ["format", "bits/param"]
    assert tr.startswith("biçim") and "parametre başına bit" in tr and "en yakın komşu uyumu" in tr
    assert "32.00" in en and "32,00" in tr
    assert len(en.splitlines()) == len(rows) + 2


def test_cli_turkish_with_plot(tmp_path, capsys):
    plot = tmp_path / "chart.png"
    argv = ["compare", "--formats", "fp32,int8-absmax-tensor,nf4", "--sentences", "32", "--lang", "tr"]
    assert qlab_main([*argv, "--plot", str(plot), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "nicemleme karşılaştırması" in out and "biçim" in out and "ort. kosinüs" in out
    assert "grafik kaydedildi" in out
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_usage_and_bad_input(capsys):
    assert qlab_main([]) == 0
    assert "compare" in capsys.readouterr().out
    assert qlab_main(["frobnicate"]) == 2
    with pytest.raises(ValueError, match="unknown format"):
        run_compare("minilm", ["int3"], loaded=object())
    with pytest.raises(ValueError, match="unknown model"):
        run_compare("gpt2")


# --- SmolLM2 table: perplexity with its interval, the paired change vs fp32 ---------


def _lm_rows() -> list[CompareRow]:
    common = {"model_mb": 538.1, "weight_sqnr_db": math.inf, "seconds": 15.2}
    return [
        CompareRow("fp32", 32.0, perplexity=19.33, perplexity_low=15.1, perplexity_high=24.62,
                   vs_fp32_percent=0.0, vs_fp32_low=0.0, vs_fp32_high=0.0, **common),
        CompareRow("int8-absmax-g64", 8.5, perplexity=19.35, perplexity_low=15.12, perplexity_high=24.7,
                   vs_fp32_percent=0.1, vs_fp32_low=-0.25, vs_fp32_high=0.43, **common),
        CompareRow("nf4", 4.5, perplexity=25.23, perplexity_low=19.8, perplexity_high=31.9,
                   vs_fp32_percent=30.52, vs_fp32_low=26.1, vs_fp32_high=35.07, **common),
    ]  # fmt: skip


def test_smollm2_table_shows_intervals_and_marks_only_significant_changes():
    rows = _lm_rows()
    assert [r.significant for r in rows] == [False, False, True]
    en = format_table(rows, "en").splitlines()
    assert "95 % interval" in en[0] and "vs fp32 % [paired 95 %]" in en[0]
    assert "[15.10, 24.62]" in en[2] and "reference" in en[2]
    assert "+0.10 [-0.25, +0.43]  " in en[3] and "*" not in en[3]  # no star: within the noise
    assert "+30.52 [+26.10, +35.07] *" in en[4]
    tr = format_table(rows, "tr")
    assert "şaşkınlık" in tr and "%95 aralık" in tr and "eşleştirilmiş" in tr and "referans" in tr
    assert "[15,10; 24,62]" in tr and "+30,52 [+26,10; +35,07] *" in tr and "19,33" in tr
    assert not re.search(r"\d\.\d", tr)  # no decimal point anywhere in the Turkish table
    legend = smollm2_legend("tr")
    assert "10.000" in legend and "Hamlet'ten" in legend and "0'ı" in legend
    assert not re.search(r"\d\.\d", legend.replace("10.000", ""))
    assert "10,000 resamples" in smollm2_legend("en")


@pytest.fixture(scope="module")
def lm_rows() -> dict[str, CompareRow]:
    """SmolLM2 on 3 + 3 windows (half the protocol, to keep CI short), network refused."""

    def refuse(*args, **kwargs):
        raise NetworkUsed(f"qlab compare tried to open a network connection: {args[1:] or kwargs}")

    formats = ["fp32", "int8-absmax-channel", "int4-zeropoint-g64", "nf4"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket, "create_connection", refuse)
        mp.setattr(socket, "getaddrinfo", refuse)
        return {r.format: r for r in run_compare("smollm2", formats, windows_per_text=3, progress=False)}


def test_smollm2_claims_only_differences_beyond_the_paired_interval(lm_rows):
    from qlab.models.evaluate import PerplexityResult, paired_difference

    fp32, int8, int4, nf4 = (lm_rows[n] for n in ("fp32", "int8-absmax-channel", "int4-zeropoint-g64", "nf4"))
    assert all(len(r.per_window_nll) == 6 for r in lm_rows.values())
    assert fp32.perplexity_low < fp32.perplexity < fp32.perplexity_high
    assert fp32.vs_fp32_percent == 0 and not fp32.significant
    # both 4-bit formats are measurably worse than fp32 ...
    assert nf4.significant and nf4.vs_fp32_low > 0 and int4.significant and int4.vs_fp32_low > 0
    # ... and measurably worse than per-channel INT8: the paired intervals do not touch
    assert int8.vs_fp32_high < min(nf4.vs_fp32_low, int4.vs_fp32_low)
    result = {n: PerplexityResult.from_window_nll(r.per_window_nll, 255) for n, r in lm_rows.items()}
    assert paired_difference(result["nf4"], result["int8-absmax-channel"]).low > 0
    assert paired_difference(result["int4-zeropoint-g64"], result["int8-absmax-channel"]).low > 0
    # pairing is what makes these claims possible: the paired interval is far tighter than a per-model one
    paired_width = nf4.vs_fp32_high - nf4.vs_fp32_low
    assert paired_width < 0.5 * 100 * (nf4.perplexity_high - nf4.perplexity_low) / nf4.perplexity
    assert nf4.bits_per_parameter == 4.5 and int4.bits_per_parameter == 4 + 36 / 64
