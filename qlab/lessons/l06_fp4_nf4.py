"""Lesson 06 (FP4, NF4 and double quantization): exercises and the strings its plots, tables and widgets show.

Importing this module registers, once:

* the lesson's exercises ``06.nf4_block_codes`` (the learner writes the NF4
  code search for one block), ``06.dq_bits`` and ``06.default_quant_type``
  (:func:`qlab.exercises.register`);
* the English and Turkish texts of its plot titles, axis labels, legends,
  table headers, widget labels and readouts (:func:`qlab.i18n.add_messages`).

The notebook ``notebooks/{en,tr}/06_fp4_nf4.ipynb`` imports it in its setup cell.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qlab.codebooks import NF4_CODE
from qlab.exercises import REGISTRY, choice, implementation, numeric, register
from qlab.fourbit import quantize_4bit
from qlab.i18n import add_messages

add_messages(
    {
        # grids
        "l06.grid.int4sym": {"en": "INT4 symmetric (absmax)", "tr": "INT4 simetrik (absmax)"},
        "l06.grid.int4asym": {"en": "INT4 asymmetric (zero-point)", "tr": "INT4 asimetrik (sıfır noktalı)"},
        "l06.grid.fp4": {"en": "bitsandbytes FP4", "tr": "bitsandbytes FP4"},
        "l06.grid.e2m1": {"en": "OCP E2M1 (÷ 6)", "tr": "OCP E2M1 (÷ 6)"},
        "l06.grid.nf4": {"en": "NF4", "tr": "NF4"},
        "l06.grid.title": {"en": "Five 4-bit grids on [−1, 1]", "tr": "[−1, 1] üzerinde beş 4 bitlik ızgara"},
        "l06.grid.xlabel": {
            "en": "value after dividing by the block's absmax",
            "tr": "bloğun absmax'ına bölündükten sonraki değer",
        },
        "l06.grid.levels": {
            "en": "{name:30} {n:>2} distinct levels, smallest nonzero |v| {small}",
            "tr": "{name:30} {n:>2} farklı düzey; sıfırdan farklı en küçük |v| {small}",
        },
        "l06.fp4.mags": {
            "en": "bitsandbytes FP4 magnitudes × 12: {fp4}\nOCP E2M1 magnitudes × 2:          {e2m1}",
            "tr": "bitsandbytes FP4 büyüklükleri × 12: {fp4}\nOCP E2M1 büyüklükleri × 2:          {e2m1}",
        },
        # NF4 from quantiles
        "l06.nf4.offset": {
            "en": "offset = 1 − (1/30 + 1/32)/2 = {offset}",
            "tr": "offset = 1 − (1/30 + 1/32)/2 = {offset}",
        },
        "l06.nf4.half": {
            "en": "{side} quantiles Φ⁻¹(p): {values}",
            "tr": "{side} kuantiller Φ⁻¹(p): {values}",
        },
        "l06.nf4.pos": {"en": "positive", "tr": "pozitif"},
        "l06.nf4.neg": {"en": "negative", "tr": "negatif"},
        "l06.nf4.table": {"en": "NF4 (÷ Φ⁻¹(offset)): {values}", "tr": "NF4 (÷ Φ⁻¹(offset)): {values}"},
        "l06.nf4.count": {
            "en": "{neg} negative, {zero} zero, {pos} positive; largest difference to bitsandbytes' table: {diff}",
            "tr": "{neg} negatif, {zero} sıfır, {pos} pozitif; bitsandbytes'ın tablosundan en büyük fark: {diff}",
        },
        # by hand
        "l06.hand.absmax": {"en": "absmax of the block: {a}", "tr": "bloğun absmax'ı: {a}"},
        "l06.hand.row": {
            "en": "x = {x:>8}   x/absmax = {s:>8}   code {c:>2} → NF4 value {v:>8}",
            "tr": "x = {x:>8}   x/absmax = {s:>8}   kod {c:>2} → NF4 değeri {v:>8}",
        },
        "l06.hand.bytes": {
            "en": "first 4 bytes by hand: {hand}   qlab: {qlab}   bitsandbytes: {bnb}",
            "tr": "elle hesaplanan ilk 4 bayt: {hand}   qlab: {qlab}   bitsandbytes: {bnb}",
        },
        "l06.hand.tie": {
            "en": "a value exactly on the midpoint {m} between codes {lo} and {hi} gets code {c}",
            "tr": "{lo} ve {hi} kodlarının tam ortasındaki {m} değeri {c} kodunu alır",
        },
        # reference
        "l06.ref.equal": {
            "en": "{n} real weight matrices ({w} weights): reference bytes = fast bytes: {ok}; absmax equal: {ok2}",
            "tr": "{n} gerçek ağırlık matrisi ({w} ağırlık): başvuru baytları = hızlı yolun baytları: {ok}; absmax eşit: {ok2}",
        },
        "l06.yes": {"en": "yes", "tr": "evet"},
        "l06.no": {"en": "no", "tr": "hayır"},
        # code usage
        "l06.use.title": {
            "en": "How often each of the 16 codes is used ({model})",
            "tr": "16 kodun her birinin kullanım sıklığı ({model})",
        },
        "l06.use.xlabel": {"en": "code (sorted by value)", "tr": "kod (değere göre sıralı)"},
        "l06.use.ylabel": {"en": "share of weights (%)", "tr": "ağırlıkların payı (%)"},
        "l06.use.row": {
            "en": "{model:8} {fmt:28} entropy {h} bits   most used {hi}   least used {lo}   SQNR {sqnr} dB",
            "tr": "{model:8} {fmt:28} entropi {h} bit   en sık kullanılan {hi}   en seyrek kullanılan {lo}   SQNR {sqnr} dB",
        },
        # block size
        "l06.bs.title": {
            "en": "NF4 on {layer}: accuracy vs storage",
            "tr": "{layer} üzerinde NF4: doğruluğa karşı depolama",
        },
        "l06.bs.xlabel": {"en": "measured bits per parameter", "tr": "ölçülen parametre başına bit"},
        "l06.bs.plain": {"en": "NF4, float32 absmax", "tr": "NF4, float32 absmax"},
        "l06.bs.dq": {"en": "NF4 + double quantization", "tr": "NF4 + çift nicemleme"},
        "l06.bs.chosen": {"en": "selected block size {bs}", "tr": "seçilen blok boyutu {bs}"},
        "l06.bs.widget": {"en": "Block size", "tr": "Blok boyutu"},
        "l06.bs.readout": {
            "en": "block size {bs}: {n} blocks, SQNR {sqnr} dB, {bpp} bits per parameter ({bppdq} with double quantization)",
            "tr": "blok boyutu {bs}: {n} blok; SQNR {sqnr} dB; parametre başına {bpp} bit (çift nicemlemeyle {bppdq})",
        },
        "l06.bs.gain": {
            "en": "SQNR, block size 32 minus 4096: {gain} dB; per halving of the block size: {per} dB on average",
            "tr": "SQNR farkı, blok boyutu 32 ile 4096 arasında: {gain} dB; blok boyutunu her yarıya indirmenin ortalama kazancı: {per} dB",
        },
        # double quantization
        "l06.dq.title": {
            "en": "The {n} block scales (absmax) of {layer}",
            "tr": "{layer} katmanının {n} blok ölçeği (absmax)",
        },
        "l06.dq.xlabel": {"en": "absmax of a block of 64", "tr": "64'lük bir bloğun absmax'ı"},
        "l06.dq.ylabel": {"en": "blocks", "tr": "blok sayısı"},
        "l06.dq.mean": {"en": "mean (the offset)", "tr": "ortalama (offset)"},
        "l06.dq.stats": {
            "en": "absmax: min {lo}, mean {mean}, max {hi}; after subtracting the mean: {clo} … {chi}",
            "tr": "absmax: en küçük {lo}, ortalama {mean}, en büyük {hi}; ortalama çıkarıldıktan sonra: {clo} … {chi}",
        },
        "l06.dq.state": {
            "en": "stored: {n1} uint8 codes + {n2} float32 second-level absmax + 1 float32 offset ({off})",
            "tr": "saklanan: {n1} uint8 kod + {n2} float32 ikinci düzey absmax + 1 float32 offset ({off})",
        },
        "l06.dq.bill": {
            "en": "scale bits per parameter: plain 32/64 = {plain}; double quantization 8/64 + 32/(64·256) = {dq}",
            "tr": "parametre başına ölçek biti: çift nicemlemesiz 32/64 = {plain}; çift nicemleme 8/64 + 32/(64·256) = {dq}",
        },
        "l06.dq.err": {
            "en": "relative error of the scales: mean {mean}, max {max}; weight SQNR {s0} dB → {s1} dB (−{d} dB)",
            "tr": "ölçeklerin göreli hatası: ortalama {mean}, en büyük {max}; ağırlık SQNR'si {s0} dB → {s1} dB (−{d} dB)",
        },
        "l06.dq.nomean": {
            "en": "without subtracting the mean (scales quantized as they are): mean relative error {e}",
            "tr": "ortalama çıkarılmadan (ölçekler olduğu gibi nicemlenirse): ortalama göreli hata {e}",
        },
        "l06.dq.65b": {
            "en": "65B model: scales {plain} GB → {dq} GB, saving {save} GB",
            "tr": "65 milyar parametreli model: ölçekler {plain} GB → {dq} GB; kazanç {save} GB",
        },
        # real models
        "l06.fmt.nf4": {"en": "NF4 g64", "tr": "NF4 g64"},
        "l06.fmt.nf4-dq": {"en": "NF4 + DQ g64", "tr": "NF4 + ÇN g64"},
        "l06.fmt.fp4": {"en": "FP4 g64", "tr": "FP4 g64"},
        "l06.fmt.int4-absmax-g64": {"en": "INT4 symmetric g64", "tr": "INT4 simetrik g64"},
        "l06.fmt.int4-zeropoint-g64": {"en": "INT4 asymmetric g64", "tr": "INT4 asimetrik g64"},
        "l06.fmt.int4-zeropoint-g32": {
            "en": "INT4 asymmetric g32 (Q4_1-like)",
            "tr": "INT4 asimetrik g32 (Q4_1 benzeri)",
        },
        "l06.minilm.row": {
            "en": "{fmt:22} weight SQNR {sqnr:>5} dB   mean cosine {cos}   same nearest neighbour {nn}",
            "tr": "{fmt:22} ağırlık SQNR'si {sqnr:>5} dB   ortalama kosinüs {cos}   aynı en yakın komşu {nn}",
        },
        "l06.ppl.protocol": {
            "en": "perplexity protocol: {w} windows of {n} tokens ({p} predictions); 95 % intervals by bootstrap over windows",
            "tr": "şaşkınlık protokolü: {n} tokenlik {w} pencere ({p} tahmin); %95 aralıkları pencereler üzerinde bootstrap ile",
        },
        "l06.ppl.row": {
            "en": "{fmt:32} perplexity {ppl}   change vs fp32 {pct} [{low}; {high}]",
            "tr": "{fmt:34} şaşkınlık {ppl}   fp32'ye göre değişim {pct} [{low}; {high}]",
        },
        "l06.ppl.base": {"en": "{fmt:32} perplexity {ppl}", "tr": "{fmt:34} şaşkınlık {ppl}"},
        "l06.ppl.pair": {
            "en": "{a} vs {b}: {pct} [{low}; {high}] → {verdict}",
            "tr": "{b} yerine {a}: {pct} [{low}; {high}] → {verdict}",
        },
        "l06.ppl.sig": {"en": "larger than the noise", "tr": "gürültüden büyük"},
        "l06.ppl.nosig": {"en": "inside the noise", "tr": "gürültünün içinde"},
        "l06.q41.sqnr": {
            "en": "SmolLM2, all linear weights re-quantized (weight SQNR): asymmetric g32 {s32} dB, asymmetric g64 {s64} dB, NF4 g64 {snf} dB",
            "tr": "SmolLM2, bütün doğrusal ağırlıklar yeniden nicemlendi (ağırlık SQNR'si): asimetrik g32 {s32} dB; asimetrik g64 {s64} dB; NF4 g64 {snf} dB",
        },
        # seed table
        "l06.seed.header": {
            "en": "format   bits/param   saving vs FP32   SQNR (dB)   dynamic range   levels in [−0.1, 0.1]·absmax",
            "tr": "biçim    bit/parametre   FP32'ye göre kazanç   SQNR (dB)   dinamik aralık   [−0,1; 0,1]·absmax içindeki düzey",
        },
        "l06.seed.row": {
            "en": "{fmt:8} {bpp:>10}   {save:>14}   {sqnr:>9}   {dr:>13}   {lev:>3}",
            "tr": "{fmt:8} {bpp:>13}   {save:>19}   {sqnr:>9}   {dr:>14}   {lev:>3}",
        },
        # block-scaled floats
        "l06.mx.row": {
            "en": "{fmt:30} {bpp:>6} bits/param   SQNR {sqnr} dB",
            "tr": "{fmt:30} {bpp:>6} bit/parametre   SQNR {sqnr} dB",
        },
        "l06.mx.gguf": {
            "en": "qlab's MXFP4 bytes equal gguf.quants.quantize(..., MXFP4): {ok} ({n} bytes)",
            "tr": "qlab'ın MXFP4 baytları gguf.quants.quantize(..., MXFP4) ile aynı: {ok} ({n} bayt)",
        },
        # ecosystem
        "l06.bnb.default": {
            "en": "BitsAndBytesConfig(load_in_4bit=True).bnb_4bit_quant_type = {qt!r}; qlab.quantize_4bit(W) uses {qq!r}",
            "tr": "BitsAndBytesConfig(load_in_4bit=True).bnb_4bit_quant_type = {qt!r}; qlab.quantize_4bit(W) {qq!r} kullanır",
        },
        "l06.bnb.model": {
            "en": "{n} Linear4bit layers; first: weight {shape} {dtype}, quant_type {qt!r}, nested scales {nested}",
            "tr": "{n} Linear4bit katmanı; ilki: ağırlık {shape} {dtype}, quant_type {qt!r}, iç içe ölçekler {nested}",
        },
        "l06.bnb.bytes": {
            "en": "packed bytes of every Linear4bit equal qlab.quantize_4bit(W, quant_type='nf4', compress_statistics=True): {ok}; nested codes equal: {ok2}",
            "tr": "her Linear4bit'in paketlenmiş baytları qlab.quantize_4bit(W, quant_type='nf4', compress_statistics=True) ile aynı: {ok}; iç içe kodlar aynı: {ok2}",
        },
        "l06.bnb.out": {
            "en": "train-mode forward of the 4-bit model vs qlab's NF4+DQ model: max |Δ logits| = {d}",
            "tr": "4 bitlik modelin eğitim kipindeki ileri geçişi ile qlab'ın NF4+ÇN modeli arasında en büyük |Δ logit| = {d}",
        },
        "l06.mem.7b": {
            "en": "7B parameters in NF4 + DQ: 7·10⁹ × {bpp} bits / 8 = {gb} GB (fp16: {fp16} GB)",
            "tr": "NF4 + ÇN'de 7 milyar parametre: 7·10⁹ × {bpp} bit / 8 = {gb} GB (fp16: {fp16} GB)",
        },
    }
)


# --- Exercise 1: the learner writes the NF4 code search for one block --------------
#
# nf4_block_codes(block) -> the 16-level code (0..15, an index into NF4_CODE) of every
# value of a 1-D float32 block, as qlab.quantize_4bit(block, quant_type="nf4",
# blocksize=len(block)) stores them (unpacked).


def _unpack(packed: Any, n: int) -> np.ndarray:
    b = np.asarray(packed).ravel()
    return np.stack([b >> 4, b & 15], axis=1).ravel()[:n].astype(np.int64)


def nf4_block_codes_reference(block: Any) -> np.ndarray:
    """qlab's answer: the unpacked NF4 codes of one block."""
    block = np.asarray(block, dtype=np.float32)
    packed, _ = quantize_4bit(block, quant_type="nf4", blocksize=64)  # blocks of up to 64 values
    return _unpack(packed, block.size)


def _code_of(scaled: np.ndarray) -> np.ndarray:
    return np.abs(scaled[:, None] - NF4_CODE[None, :]).argmin(axis=1).astype(np.int64)


def _nf_no_normalize(block):
    """Mistake: the values are not divided by the block's absmax."""
    return _code_of(np.clip(np.asarray(block, np.float32), -1, 1))


def _nf_max_not_absmax(block):
    """Mistake: divided by max(x) instead of max|x|."""
    b = np.asarray(block, np.float32)
    return _code_of(np.clip(b / b.max(), -1, 1))


def _nf_uniform_grid(block):
    """Mistake: a uniform 16-level grid (asymmetric INT4) instead of the NF4 table."""
    b = np.asarray(block, np.float32)
    return np.clip(np.round((b / np.abs(b).max() + 1) * 7.5), 0, 15).astype(np.int64)


def _nf_values_not_codes(block):
    """Mistake: returns the NF4 values, not their codes."""
    b = np.asarray(block, np.float32)
    return NF4_CODE[_code_of(b / np.abs(b).max())]


_NF_MISTAKES = {
    "ex.06.nf_no_normalize": _nf_no_normalize,
    "ex.06.nf_max_not_absmax": _nf_max_not_absmax,
    "ex.06.nf_uniform_grid": _nf_uniform_grid,
    "ex.06.nf_values_not_codes": _nf_values_not_codes,
}

_NF_EDGE_CASES = (
    {"block": np.array([0.3, -0.6, 0.05, 1.2, -0.02, 0.0, -0.4, 0.8], dtype=np.float32)},
    {"block": np.linspace(-2.0, 0.5, 32, dtype=np.float32)},
)


def _nf_inputs(rng: np.random.Generator) -> dict[str, Any]:
    n = int(rng.choice((16, 32, 64)))
    return {"block": (rng.uniform(0.01, 0.1) * rng.standard_normal(n)).astype(np.float32)}


if "06.nf4_block_codes" not in REGISTRY:
    register(
        "06.nf4_block_codes",
        solution=nf4_block_codes_reference,
        wrong=tuple(_NF_MISTAKES.values()),
        checker=implementation(
            nf4_block_codes_reference,
            _nf_inputs,
            trials=12,
            seed=6,
            edge_cases=_NF_EDGE_CASES,
            mistakes=_NF_MISTAKES,
        ),
        messages={
            "ex.06.nf_no_normalize": {
                "en": "the NF4 table lives on [−1, 1]: divide the block by its absmax before you look for the nearest value.",
                "tr": "NF4 tablosu [−1, 1] üzerindedir: en yakın değeri aramadan önce bloğu absmax'ına bölün.",
            },
            "ex.06.nf_max_not_absmax": {
                "en": "you divided by the largest value; a negative value can be larger in magnitude. Use the largest |x|.",
                "tr": "en büyük değere böldünüz; negatif bir değerin mutlak değeri daha büyük olabilir. En büyük |x| değerini kullanın.",
            },
            "ex.06.nf_uniform_grid": {
                "en": "those are the codes of an evenly spaced grid. NF4's 16 levels are the values of `NF4_CODE`: "
                "pick the nearest of them.",
                "tr": "bunlar eşit aralıklı bir ızgaranın kodları. NF4'ün 16 düzeyi `NF4_CODE` içindeki değerlerdir: "
                "bunların en yakınını seçin.",
            },
            "ex.06.nf_values_not_codes": {
                "en": "you returned the NF4 values; return their positions in `NF4_CODE` (integers 0 … 15).",
                "tr": "NF4 değerlerini döndürdünüz; onların `NF4_CODE` içindeki konumlarını (0 … 15 arası tam sayılar) döndürün.",
            },
        },
    )

# --- Exercise 2: the bits of NF4 with double quantization at block size 128 --------
_DQ_BITS_128 = 4 + 8 / 128 + 32 / (128 * 256)

if "06.dq_bits" not in REGISTRY:
    register(
        "06.dq_bits",
        solution=_DQ_BITS_128,
        wrong=(4.0, 4 + 32 / 128, 4 + 8 / 128, 4 + 8 / 64 + 32 / (64 * 256)),
        checker=numeric(
            _DQ_BITS_128,
            rel_tol=0.0,
            abs_tol=0.0005,
            units=None,
            traps={
                4.0: "ex.06.dq_forgot_scales",
                4 + 32 / 128: "ex.06.dq_plain",
                4 + 8 / 128: "ex.06.dq_second_level",
                4 + 8 / 64 + 32 / (64 * 256): "ex.06.dq_block64",
            },
        ),
        messages={
            "ex.06.dq_forgot_scales": {
                "en": "that is only the 4-bit codes. Every block still stores a scale, now in 8 bits.",
                "tr": "bu yalnızca 4 bitlik kodlar. Her blok hâlâ bir ölçek saklar; artık 8 bitte.",
            },
            "ex.06.dq_plain": {
                "en": "that is a float32 scale per block, without double quantization.",
                "tr": "bu, çift nicemleme olmadan blok başına float32 bir ölçek.",
            },
            "ex.06.dq_second_level": {
                "en": "almost: the 8-bit scales need their own float32 scale, one per 256 blocks.",
                "tr": "neredeyse: 8 bitlik ölçeklerin de kendi float32 ölçeği vardır, her 256 blok için bir tane.",
            },
            "ex.06.dq_block64": {
                "en": "that is the bill for blocks of 64. Here a block holds 128 weights.",
                "tr": "bu, 64'lük blokların faturası. Burada bir blok 128 ağırlık tutuyor.",
            },
        },
    )

# --- Exercise 3: the default quant type --------------------------------------------
if "06.default_quant_type" not in REGISTRY:
    register(
        "06.default_quant_type",
        solution="fp4",
        wrong=("nf4", "int4"),
        checker=choice(
            "fp4",
            ("fp4", "nf4", "int4"),
            traps={"nf4": "ex.06.default_nf4", "int4": "ex.06.default_int4"},
        ),
        messages={
            "ex.06.default_nf4": {
                "en": "that is what most people want, and why this is a trap. Print "
                "`BitsAndBytesConfig(load_in_4bit=True).bnb_4bit_quant_type` and see.",
                "tr": "çoğu kişinin istediği bu; tuzak da tam burada. "
                "`BitsAndBytesConfig(load_in_4bit=True).bnb_4bit_quant_type` değerini yazdırıp görün.",
            },
            "ex.06.default_int4": {
                "en": "bitsandbytes' 4-bit quantizer knows two tables, and INT4 is neither of them.",
                "tr": "bitsandbytes'ın 4 bitlik nicemleyicisi iki tablo bilir; INT4 bunlardan biri değildir.",
            },
        },
    )
