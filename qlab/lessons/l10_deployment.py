"""Lesson 10 (deployment runtimes and choosing a format): helpers, exercises and the strings its cells show.

Importing it registers, once:

* the exercises ``10.matmulnbits_block`` (the learner writes ONNX Runtime's
  symmetric 4-bit block quantizer), ``10.mix_bpw`` (bits per weight of a
  k-quant mix) and ``10.laptop_format`` (a format for a 7B model on an 8 GB laptop)
  (:func:`qlab.exercises.register`);
* the English and Turkish texts of the lesson's tables, plots and widget
  (:func:`qlab.i18n.add_messages`).

Helpers the notebook calls (onnxruntime, onnx, openvino and nncf are imported
inside the functions, so importing this module costs nothing):

* :class:`SentenceEmbedder` / :func:`export_onnx`: all-MiniLM-L6-v2 *with* its mean
  pooling and L2 normalisation as one ONNX graph (``torch.onnx.export``, dynamo);
* :func:`quantize_int8` / :func:`quantize_int4`: ONNX Runtime's ``quantize_dynamic``
  and ``MatMulNBitsQuantizer``, quiet;
* :func:`ort_session` / :func:`ort_encode`: one-thread sessions and sentence
  embeddings from them, the same batches as :func:`qlab.models.evaluate.encode`;
* :func:`onnx_initializers`, :func:`op_counts`, :func:`matmul_weights`,
  :func:`unpack_matmulnbits`: read what a quantized file stores;
* :func:`matmulnbits_block_reference`: ORT's symmetric 4-bit rule for one block
  (the exercise's reference);
* :func:`openvino_available` / :func:`nncf_compress`: OpenVINO + NNCF weight
  compression where the optional extra is installed;
* :data:`ROUND_TRIPS`: every weight-only method of the course as ``w -> ŵ``
  for the final scoreboard.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

import qlab
from qlab import ggml
from qlab.exercises import REGISTRY, choice, implementation, numeric, register
from qlab.i18n import add_messages

# --- quiet third-party calls ---------------------------------------------------------


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence the exporters' and quantizers' prints, warnings and log records (they are not lesson output)."""
    sink = io.StringIO()
    previous = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


# --- MiniLM as one ONNX graph ------------------------------------------------------------


class SentenceEmbedder(torch.nn.Module):
    """MiniLM + mean pooling over real tokens + L2 normalisation: what :func:`qlab.models.evaluate.encode` computes."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
        return torch.nn.functional.normalize(mean, p=2, dim=1)


# The graph's output name. Not "embedding": the dynamo exporter already names a node
# "embedding" (the word-embedding Gather) and ONNX Runtime then refuses the file with
# "Duplicate definition of name (embedding)" -- measured with torch 2.13 / onnxruntime 1.32.
OUTPUT = "sentence_embedding"


def export_onnx(model: torch.nn.Module, tokenizer: Any, path: str | Path, sentences: list[str]) -> Path:
    """Export MiniLM with pooling to ``path`` (opset 18, dynamic batch and sequence axes, weights inside the file)."""
    path = Path(path)
    batch = tokenizer(sentences, padding=True, return_tensors="pt")
    dims = {0: "batch", 1: "sequence"}
    with quiet(), torch.no_grad():
        torch.onnx.export(
            SentenceEmbedder(model).eval(),
            (batch["input_ids"], batch["attention_mask"]),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[OUTPUT],
            dynamic_shapes={"input_ids": dims, "attention_mask": dims},
            opset_version=18,
            dynamo=True,
            external_data=False,
            verbose=False,
        )
    _drop_debug_metadata(path)
    return path


def _drop_debug_metadata(path: Path) -> None:
    """Remove the exporter's per-node debug records (Python stack traces, module scopes) from the file.

    They hold the absolute paths of the installed packages, so without this the file's size -- which the
    lesson prints and asserts -- would depend on where the course was cloned (measured: 1,806 copies of
    the path, about 0.6 MB). Inference never reads them.
    """
    import onnx

    model = onnx.load(str(path))
    for node in model.graph.node:
        del node.metadata_props[:]
    for info in model.graph.value_info:
        del info.metadata_props[:]
    onnx.save(model, str(path))


def quantize_int8(src: str | Path, dst: str | Path, *, per_channel: bool) -> Path:
    """ONNX Runtime's dynamic INT8 quantization (weights int8 symmetric, activations uint8 at run time)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with quiet():
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel)
    return Path(dst)


def quantize_int4(src: str | Path, dst: str | Path, *, block_size: int = 32, symmetric: bool = True) -> Path:
    """ONNX Runtime's 4-bit weight-only quantization: every MatMul with a constant weight becomes MatMulNBits."""
    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import (
        DefaultWeightOnlyQuantConfig,
        MatMulNBitsQuantizer,
    )

    with quiet():
        config = DefaultWeightOnlyQuantConfig(block_size=block_size, is_symmetric=symmetric)
        quantizer = MatMulNBitsQuantizer(onnx.load(str(src)), algo_config=config)
        quantizer.process()
        quantizer.model.save_model_to_file(str(dst), False)
    return Path(dst)


def ort_session(path: str | Path, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads and warnings off."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feeds(tokenizer: Any, sentences: list[str], batch_size: int = 32) -> list[dict[str, np.ndarray]]:
    """The input batches (int64 ``input_ids`` and ``attention_mask``), padded per batch."""
    out = []
    for start in range(0, len(sentences), batch_size):
        batch = tokenizer(sentences[start : start + batch_size], padding=True, return_tensors="np")
        out.append({k: batch[k].astype(np.int64) for k in ("input_ids", "attention_mask")})
    return out


def ort_encode(session: Any, tokenizer: Any, sentences: list[str], batch_size: int = 32) -> torch.Tensor:
    """Sentence embeddings from an exported :class:`SentenceEmbedder` (float32, one row per sentence)."""
    rows = [session.run(None, feed)[0] for feed in feeds(tokenizer, sentences, batch_size)]
    return torch.from_numpy(np.concatenate(rows).astype(np.float32))


# --- what the files store ---------------------------------------------------------------


def onnx_initializers(path: str | Path) -> dict[str, np.ndarray]:
    """Every constant tensor (initializer) of an ONNX file, by name, as numpy."""
    import onnx
    from onnx import numpy_helper

    return {i.name: numpy_helper.to_array(i) for i in onnx.load(str(path)).graph.initializer}


def op_counts(path: str | Path) -> Counter:
    """How many nodes of each operator type the graph has."""
    import onnx

    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


def matmul_weights(path: str | Path) -> dict[str, np.ndarray]:
    """The constant right-hand sides of MatMul nodes: the 36 Linear weights of MiniLM, stored (in, out) = Wᵀ."""
    import onnx

    model = onnx.load(str(path))
    inits = onnx_initializers(path)
    names = [n.input[1] for n in model.graph.node if n.op_type == "MatMul" and n.input[1] in inits]
    return {name: inits[name] for name in names}


def unpack_matmulnbits(
    blob: np.ndarray, zero_points: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """MatMulNBits' 4-bit tensors -> ``(codes, zero points)``.

    ``blob``: uint8 ``(N, n_blocks, block_size / 2)``, two codes per byte, the
    *first* in the low nibble (element ``2i`` low, ``2i + 1`` high: neighbours,
    unlike GGML's ``j`` / ``j + 16``). ``zero_points``: uint8 ``(N, ceil(n_blocks / 2))``
    packed the same way, or ``None`` for the symmetric format (every zero point is 8).
    Returns codes ``(N, n_blocks, block_size)`` in 0..15 and zero points ``(N, n_blocks)``.
    """
    blob = np.asarray(blob, dtype=np.uint8)
    if blob.ndim != 3:
        raise ValueError(
            f"unpack_matmulnbits: blob must be (N, n_blocks, block_size / 2) uint8, got shape {blob.shape}"
        )
    n, blocks, half = blob.shape
    codes = np.empty((n, blocks, 2 * half), np.uint8)
    codes[..., 0::2] = blob & 0x0F
    codes[..., 1::2] = blob >> 4
    if zero_points is None:
        return codes, np.full((n, blocks), 8, np.uint8)
    zp = np.asarray(zero_points, dtype=np.uint8)
    both = np.empty((n, 2 * zp.shape[1]), np.uint8)
    both[:, 0::2] = zp & 0x0F
    both[:, 1::2] = zp >> 4
    return codes, both[:, :blocks]


def matmulnbits_block_reference(w: Any) -> tuple[np.ndarray, np.float32]:
    """ONNX Runtime's symmetric 4-bit rule for one block: ``(codes 0..15 as uint8, float32 scale)``.

    The value of largest magnitude ``v`` (with its sign) becomes code 0, i.e. ``-8``
    steps: ``scale = v / -8``; ``codes = clip(rint(w / scale) + 8, 0, 15)``; a block of
    zeros gets scale 0 and codes 8. Measured equal to ORT 1.32 on all 36 MiniLM weights
    and to GGML's Q4_0 codes (which store ``scale`` in float16).
    """
    w = np.asarray(w, dtype=np.float32)
    v = w.flat[int(np.argmax(np.abs(w)))] if w.size else np.float32(0)
    scale = np.float32(v / np.float32(-8.0))
    if scale == 0:
        return np.full(w.shape, 8, np.uint8), np.float32(0.0)
    codes = np.clip(np.rint(w / scale) + 8, 0, 15).astype(np.uint8)
    return codes, scale


# --- OpenVINO / NNCF (optional extra) -----------------------------------------------------


def openvino_available() -> bool:
    """Whether the optional OpenVINO extra (``openvino`` and ``nncf``) is importable."""
    try:
        import nncf  # noqa: F401
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def nncf_compress(onnx_path: str | Path, mode: str, group_size: int | None = None, threads: int = 1) -> Any:
    """Convert an ONNX file to OpenVINO, compress its weights with NNCF, compile for the CPU.

    ``mode``: ``"none"`` (fp32), ``"int8_asym"``, ``"int8_sym"``, ``"int4_asym"``, ``"int4_sym"``.
    Returns a compiled model: ``compiled(feed)[0]`` is the output.
    """
    import nncf
    import openvino as ov
    import rich

    # NNCF draws rich progress bars; in a notebook rich turns them into (empty) output widgets.
    previous_console = rich._console
    rich.reconfigure(force_jupyter=False, file=io.StringIO())
    try:
        return _compress(nncf, ov, onnx_path, mode, group_size, threads)
    finally:
        rich._console = previous_console


def _compress(
    nncf: Any, ov: Any, onnx_path: str | Path, mode: str, group_size: int | None, threads: int
) -> Any:
    with quiet():
        model = ov.convert_model(str(onnx_path))
        if mode != "none":
            kwargs: dict[str, Any] = {"mode": getattr(nncf.CompressWeightsMode, mode.upper())}
            if mode.startswith("int4"):
                kwargs.update(group_size=group_size or 128, ratio=1.0)
            model = nncf.compress_weights(model, **kwargs)
        config = {"INFERENCE_NUM_THREADS": threads, "INFERENCE_PRECISION_HINT": "f32"}
        return ov.Core().compile_model(model, "CPU", config)


def ov_encode(compiled: Any, tokenizer: Any, sentences: list[str], batch_size: int = 32) -> torch.Tensor:
    rows = [compiled(feed)[0] for feed in feeds(tokenizer, sentences, batch_size)]
    return torch.from_numpy(np.concatenate(rows).astype(np.float32))


# --- every weight-only method of the course, as w -> ŵ ------------------------------------


def _ggml(qtype: str) -> Callable[[np.ndarray], np.ndarray]:
    return lambda w: ggml.dequantize(ggml.quantize(w, qtype), qtype).reshape(w.shape)


def _nf4(w: np.ndarray, double_quant: bool = False) -> np.ndarray:
    packed, state = qlab.quantize_nf4(torch.as_tensor(w), blocksize=64, compress_statistics=double_quant)
    return qlab.dequantize_nf4(packed, state).numpy()


# (label, bits per weight of the Linear weights, round trip). Bits count what each format
# stores: qlab's formats a float32 scale per group (lessons 02-04); GGUF and MLX fp16
# (MLX stores scales and biases in the model's dtype, fp16 for an fp16 model); ORT float32.
ROUND_TRIPS: dict[str, tuple[float, Callable[[np.ndarray], np.ndarray]]] = {
    "int8_channel": (
        8.0,
        lambda w: qlab.absmax_dequantize(*qlab.absmax_quantize(w, 8, axis=0)),
    ),  # + 32 / in_features
    "q8_0": (ggml.bits_per_weight("Q8_0"), _ggml("Q8_0")),
    "q5_1": (ggml.bits_per_weight("Q5_1"), _ggml("Q5_1")),
    "q4_1": (ggml.bits_per_weight("Q4_1"), _ggml("Q4_1")),
    "q4_0": (ggml.bits_per_weight("Q4_0"), _ggml("Q4_0")),
    "mlx4": (4 + 32 / 64, lambda w: qlab.mlx_dequantize(*qlab.mlx_quantize(w, 64, 4), 64, 4)),
    "int4_zp": (
        4 + 36 / 64,
        lambda w: qlab.zeropoint_dequantize(*qlab.zeropoint_quantize(w, 4, group_size=64)),
    ),
    "int4_absmax": (
        4 + 32 / 64,
        lambda w: qlab.absmax_dequantize(*qlab.absmax_quantize(w, 4, group_size=64)),
    ),
    "nf4": (4 + 32 / 64, _nf4),
    "int3_zp": (
        3 + 35 / 64,
        lambda w: qlab.zeropoint_dequantize(*qlab.zeropoint_quantize(w, 3, group_size=64)),
    ),
}
"""Scoreboard rows without calibration: key -> (bits per weight of the Linear weights, w -> ŵ).

"int8_channel" stores 8 bits + a float32 scale per output row: the notebook adds 32 / in_features."""

# The scoreboard's row names (keys of ROUND_TRIPS plus the calibrated and ONNX Runtime rows).
_ROW_NAMES = {
    "int8_channel": ("RTN INT8 (channel)", "RTN INT8 (kanal)"),
    "q8_0": ("GGUF Q8_0", "GGUF Q8_0"),
    "q5_1": ("GGUF Q5_1", "GGUF Q5_1"),
    "q4_1": ("GGUF Q4_1", "GGUF Q4_1"),
    "q4_0": ("GGUF Q4_0", "GGUF Q4_0"),
    "mlx4": ("MLX 4-bit g64", "MLX 4 bit g64"),
    "int4_zp": ("RTN INT4 zero-point g64", "RTN INT4 sıfır noktalı g64"),
    "int4_absmax": ("RTN INT4 absmax g64", "RTN INT4 absmax g64"),
    "nf4": ("NF4 b64", "NF4 b64"),
    "int3_zp": ("RTN INT3 zero-point g64", "RTN INT3 sıfır noktalı g64"),
    "gptq4": ("GPTQ INT4 g128", "GPTQ INT4 g128"),
    "awq4": ("AWQ INT4 g128", "AWQ INT4 g128"),
    "ort_int8": ("ORT INT8 W8A8 (channel)", "ORT INT8 W8A8 (kanal)"),
    "ort_int4": ("ORT MatMulNBits 4-bit b32", "ORT MatMulNBits 4 bit b32"),
}
add_messages({f"l10.row.{k}": {"en": en, "tr": tr} for k, (en, tr) in _ROW_NAMES.items()})


# --- texts --------------------------------------------------------------------------

add_messages(
    {
        "l10.yes": {"en": "yes", "tr": "evet"},
        "l10.no": {"en": "no", "tr": "hayır"},
        # export
        "l10.export.done": {
            "en": "exported {mb} MB, {nodes} nodes; most common: {ops}",
            "tr": "dışa aktarıldı: {mb} MB, {nodes} düğüm; en sık: {ops}",
        },
        "l10.export.same": {
            "en": "ONNX Runtime fp32 vs PyTorch fp32 on {n} sentences: every difference below 1e-5: {ok}; mean cosine {cos}",
            "tr": "{n} cümlede ONNX Runtime fp32 ile PyTorch fp32: bütün farklar 1e-5'in altında: {ok}; ortalama kosinüs {cos}",
        },
        # int8
        "l10.ops.row": {"en": "{name:28} {ops}", "tr": "{name:28} {ops}"},
        "l10.quality.header": {
            "en": "file                            MB   mean cos   min cos   same neighbour",
            "tr": "dosya                           MB   ort. kos.  en düşük  aynı komşu",
        },
        "l10.quality.row": {
            "en": "{name:28} {mb:>6}   {cos:>8}  {low:>8}   {nn:>8}",
            "tr": "{name:28} {mb:>6}   {cos:>8}  {low:>8}   {nn:>8}",
        },
        "l10.name.fp32": {"en": "fp32", "tr": "fp32"},
        "l10.name.int8_tensor": {"en": "INT8 dynamic, per tensor", "tr": "INT8 dinamik, tensör başına"},
        "l10.name.int8_channel": {"en": "INT8 dynamic, per channel", "tr": "INT8 dinamik, kanal başına"},
        "l10.name.int4_sym": {"en": "4-bit MatMulNBits sym b32", "tr": "4 bit MatMulNBits sim. b32"},
        "l10.name.int4_asym": {"en": "4-bit MatMulNBits asym b32", "tr": "4 bit MatMulNBits asim. b32"},
        "l10.codes.int8": {
            "en": "{name}: {n} int8 codes compared with qlab.absmax_quantize ({gran}): {bad} differ; zero points all 0: {zp}",
            "tr": "{name}: {n} int8 kod qlab.absmax_quantize ({gran}) ile karşılaştırıldı: {bad} tanesi farklı; sıfır noktalarının hepsi 0: {zp}",
        },
        "l10.gran.tensor": {"en": "per tensor", "tr": "tensör başına"},
        "l10.gran.channel": {"en": "axis = output channel", "tr": "eksen = çıkış kanalı"},
        "l10.codes.embed": {
            "en": "word embedding (Gather): {dtype}, one scale {s} and zero point {zp} for all {n} values",
            "tr": "kelime gömmesi (Gather): {dtype}; {n} değerin hepsi için tek ölçek {s} ve sıfır noktası {zp}",
        },
        # int4
        "l10.nbits.layout": {
            "en": "{name}: B {b} uint8, scales {s} float32, zero points {z}; attributes K = {k}, N = {n}, bits = {bits}, block_size = {bs}",
            "tr": "{name}: B {b} uint8, ölçekler {s} float32, sıfır noktaları {z}; öznitelikler K = {k}, N = {n}, bits = {bits}, block_size = {bs}",
        },
        "l10.nbits.none": {"en": "none (always 8)", "tr": "yok (hep 8)"},
        "l10.nbits.sym": {
            "en": "symmetric: scale = (value of largest magnitude) / −8 in {ok} blocks; codes equal GGML Q4_0's: {bad} of {n} differ",
            "tr": "simetrik: {ok} blokta ölçek = (büyüklüğü en fazla olan değer) / −8; kodlar GGML Q4_0'ınkilerle aynı: {n} koddan {bad} tanesi farklı",
        },
        "l10.nbits.asym": {
            "en": "asymmetric: codes equal qlab.zeropoint_quantize(bits=4, group_size=32) + 8 except {bad} of {n}",
            "tr": "asimetrik: kodlar, {n} koddan {bad} tanesi dışında qlab.zeropoint_quantize(bits=4, group_size=32) + 8 ile aynı",
        },
        # sizes
        "l10.size.row": {
            "en": "{name:28} {mb:>6} MB  ({p} % of fp32)",
            "tr": "{name:28} {mb:>6} MB  (fp32'nin %{p:'(s)I})",
        },
        "l10.size.embed": {
            "en": "word embedding 30,522 × 384 in fp32: {mb} MB, kept fp32 by MatMulNBits (it quantizes MatMuls only)",
            "tr": "30.522 × 384'lük kelime gömmesi fp32'de: {mb} MB; MatMulNBits onu fp32 bırakır (yalnızca MatMul'ları nicemler)",
        },
        # speed
        "l10.speed.header": {
            "en": "{n} sentences ({tok} real tokens, {pad} with padding), one thread, best of {r} runs:",
            "tr": "{n} cümle ({tok} gerçek token, dolgu ile {pad}), tek iş parçacığı, {r} çalıştırmanın en iyisi:",
        },
        "l10.speed.row": {"en": "{name:28} {ms:>6} ms   ×{x}", "tr": "{name:28} {ms:>6} ms   ×{x}"},
        "l10.name.torch": {"en": "PyTorch fp32", "tr": "PyTorch fp32"},
        "l10.name.ort32": {"en": "ONNX Runtime fp32", "tr": "ONNX Runtime fp32"},
        # widget
        "l10.widget.sentence": {"en": "sentence", "tr": "cümle"},
        "l10.widget.query": {
            "en": "sentence {i} (qlab/data/en_sentences.txt, one per line, counted from 0): {text}",
            "tr": "{i}. cümle (qlab/data/en_sentences.txt, satır başına bir tane, 0'dan sayılır): {text}",
        },
        "l10.widget.row": {
            "en": "{name:26} nearest neighbour {j:>3}{same}; cosine of the embedding to fp32 {cos}",
            "tr": "{name:26} en yakın komşu {j:>3}{same}; gömmenin fp32'ye kosinüsü {cos}",
        },
        "l10.widget.moved": {"en": " (fp32: {j})", "tr": " (fp32: {j})"},
        # MLX
        "l10.mlx.same": {
            "en": "qlab.mlx_quantize vs mx.quantize on {n} MiniLM weights: codes, scales and biases identical in {k}",
            "tr": "{n} MiniLM ağırlığında qlab.mlx_quantize ile mx.quantize: kodlar, ölçekler ve sapmalar {k} tanesinde aynı",
        },
        "l10.mlx.missing": {
            "en": "mlx is not installed here (pip install mlx==0.32.4 mlx-cpu==0.32.4, in one command); qlab's port runs anyway",
            "tr": "mlx burada kurulu değil (pip install mlx==0.32.4 mlx-cpu==0.32.4, tek komutta); qlab'ın aktarımı yine çalışır",
        },
        "l10.mlx.grid": {
            "en": "layer {name}: negative scales {neg}; group edge exact: MLX {em}, lesson 03 {ez}; SQNR MLX {sm} dB, lesson 03 {sz} dB",
            "tr": "{name} katmanı: negatif ölçekler {neg}; grup ucu tam: MLX {em}, 03. ders {ez}; SQNR MLX {sm} dB, 03. ders {sz} dB",
        },
        # OpenVINO
        "l10.ov.missing": {
            "en": "OpenVINO is an optional extra: make openvino (= pip install -r requirements-openvino.txt). Skipped here.",
            "tr": "OpenVINO isteğe bağlı bir ektir: make openvino (= pip install -r requirements-openvino.txt). Burada atlandı.",
        },
        "l10.ov.row": {
            "en": "OpenVINO {name:18} mean cos {cos}, same neighbour {nn}",
            "tr": "OpenVINO {name:18} ort. kosinüs {cos}, aynı komşu {nn}",
        },
        # scoreboard
        "l10.score.header": {
            "en": "{model}: {what}",
            "tr": "{model}: {what}",
        },
        "l10.score.mini_what": {
            "en": "mean cosine to fp32 on {n} held-out sentences (36 Linear weights quantized)",
            "tr": "{n} ayrılmış cümlede fp32'ye ortalama kosinüs (36 Linear ağırlığı nicemlendi)",
        },
        "l10.score.smol_what": {
            "en": "perplexity change vs the loaded weights, {w} windows × {n} tokens (210 Linear weights re-quantized)",
            "tr": "yüklenen ağırlıklara göre şaşkınlık değişimi, {w} pencere × {n} token (210 Linear ağırlığı yeniden nicemlendi)",
        },
        "l10.score.row": {"en": "{name:28} {bpw:>6} bits  {value}", "tr": "{name:28} {bpw:>6} bit  {value}"},
        "l10.score.ppl": {"en": "ppl {ppl}, {pct} [{lo}, {hi}]", "tr": "şaşkınlık {ppl}; {pct} [{lo}; {hi}]"},
        "l10.plot.title": {
            "en": "Quality against bits per weight: the course's scoreboard",
            "tr": "Ağırlık başına bite karşı kalite: kursun skor tablosu",
        },
        "l10.plot.xlabel": {
            "en": "bits per weight (Linear weights)",
            "tr": "ağırlık başına bit (Linear ağırlıkları)",
        },
        "l10.plot.mini_ylabel": {
            "en": "1 − mean cosine (MiniLM, log)",
            "tr": "1 − ortalama kosinüs (MiniLM, log)",
        },
        "l10.plot.smol_ylabel": {
            "en": "perplexity change (SmolLM2, %)",
            "tr": "şaşkınlık değişimi (SmolLM2, %)",
        },
        "l10.plot.front": {"en": "Pareto front", "tr": "Pareto cephesi"},
        "l10.plot.class": {"en": "{lo}–{hi} bits", "tr": "{lo}–{hi} bit"},
    }
)


# --- Exercise 1: ONNX Runtime's symmetric 4-bit block ---------------------------------------


def _nbits_absmax7(w):  # lesson 02's absmax: qmax 7, code 8 never holds the largest value
    w = np.asarray(w, dtype=np.float32)
    scale = np.float32(np.abs(w).max() / 7) if np.abs(w).max() > 0 else np.float32(0)
    if scale == 0:
        return np.full(w.shape, 8, np.uint8), np.float32(0.0)
    return np.clip(np.rint(w / scale) + 8, 0, 15).astype(np.uint8), scale


def _nbits_unsigned_max(w):  # |v| / 8 without the sign: the largest positive value would need code 16
    w = np.asarray(w, dtype=np.float32)
    scale = np.float32(np.abs(w).max() / 8)
    if scale == 0:
        return np.full(w.shape, 8, np.uint8), np.float32(0.0)
    return np.clip(np.rint(w / scale) + 8, 0, 15).astype(np.uint8), scale


def _nbits_no_offset(w):  # codes -8..7 (signed), not 0..15
    codes, scale = matmulnbits_block_reference(w)
    return codes.astype(np.int16) - 8, scale


def _nbits_floor(w):
    w = np.asarray(w, dtype=np.float32)
    v = w.flat[int(np.argmax(np.abs(w)))]
    scale = np.float32(v / np.float32(-8.0))
    if scale == 0:
        return np.full(w.shape, 8, np.uint8), np.float32(0.0)
    return np.clip(np.floor(w / scale) + 8, 0, 15).astype(np.uint8), scale


_NBITS_MISTAKES = {
    "ex.10.nbits_absmax7": _nbits_absmax7,
    "ex.10.nbits_unsigned": _nbits_unsigned_max,
    "ex.10.nbits_offset": _nbits_no_offset,
    "ex.10.nbits_floor": _nbits_floor,
}


def _nbits_inputs(rng: np.random.Generator) -> dict[str, Any]:
    w = rng.standard_normal(32).astype(np.float32) * np.float32(rng.uniform(0.01, 0.2))
    if rng.random() < 0.5:  # half of the blocks: the largest magnitude is positive
        w[int(np.argmax(np.abs(w)))] = np.abs(w).max()
    return {"w": w}


_NBITS_EDGE = (
    {"w": np.linspace(-1.0, 0.5, 32, dtype=np.float32)},  # largest magnitude negative
    {"w": np.linspace(-0.5, 1.0, 32, dtype=np.float32)},  # largest magnitude positive
    {"w": np.zeros(32, np.float32)},
)

if "10.matmulnbits_block" not in REGISTRY:
    register(
        "10.matmulnbits_block",
        solution=matmulnbits_block_reference,
        wrong=tuple(_NBITS_MISTAKES.values()),
        checker=implementation(
            matmulnbits_block_reference,
            _nbits_inputs,
            trials=12,
            seed=10,
            edge_cases=_NBITS_EDGE,
            mistakes=_NBITS_MISTAKES,
        ),
        messages={
            "ex.10.nbits_absmax7": {
                "en": "that is lesson 02's absmax with 7 as the largest code. ORT uses all 16 codes: the value of "
                "largest magnitude goes to −8 steps, so scale = v / −8.",
                "tr": "bu, en büyük kodu 7 olan 02. dersin absmax'ı. ORT 16 kodun hepsini kullanır: büyüklüğü en "
                "fazla olan değer −8 adıma gider, yani ölçek = v / −8.",
            },
            "ex.10.nbits_unsigned": {
                "en": "keep the sign of v. With a positive scale a positive extreme would need code 16; dividing the "
                "signed value by −8 sends it to code 0 instead.",
                "tr": "v'nin işaretini koruyun. Pozitif bir ölçekle pozitif bir uç değer 16 kodunu isterdi; işaretli "
                "değeri −8'e bölmek onu bunun yerine 0 koduna gönderir.",
            },
            "ex.10.nbits_offset": {
                "en": "MatMulNBits stores unsigned codes 0..15 with the zero point 8: add 8.",
                "tr": "MatMulNBits işaretsiz 0..15 kodlarını 8 sıfır noktasıyla saklar: 8 ekleyin.",
            },
            "ex.10.nbits_floor": {
                "en": "round to the nearest code (np.rint), do not cut off the fraction.",
                "tr": "en yakın koda yuvarlayın (np.rint), kesirli kısmı atmayın.",
            },
        },
    )

# --- Exercise 2: bits per weight of a k-quant mix ---------------------------------------------
# A made-up mix in the spirit of Q4_K_M (llama-quantize's real recipe depends on the layer index):
# 80 % of the weights in Q4_K (4.5 bits), 20 % in Q6_K (6.5625 bits).
_MIX_BPW = 0.8 * ggml.bits_per_weight("Q4_K") + 0.2 * ggml.bits_per_weight("Q6_K")

if "10.mix_bpw" not in REGISTRY:
    register(
        "10.mix_bpw",
        solution=_MIX_BPW,
        wrong=(4.0, 4.4, 5.53125),
        checker=numeric(
            _MIX_BPW,
            rel_tol=0.002,
            units=None,
            traps={
                4.0: "ex.10.mix_nominal",
                4.4: "ex.10.mix_nominal",
                5.53125: "ex.10.mix_unweighted",
            },
        ),
        messages={
            "ex.10.mix_nominal": {
                "en": "those are the code bits only. Q4_K stores 144 bytes per 256 weights (4.5 bits), Q6_K 210 bytes (6.5625).",
                "tr": "bunlar yalnızca kod bitleri. Q4_K 256 ağırlık için 144 bayt (4,5 bit), Q6_K 210 bayt (6,5625) saklar.",
            },
            "ex.10.mix_unweighted": {
                "en": "that is the plain average of the two types. Weight each by its share of the weights (80 % and 20 %).",
                "tr": "bu iki türün düz ortalaması. Her birini ağırlıklardaki payıyla (%80 ve %20) tartın.",
            },
        },
    )

# --- Exercise 3: a format for a 7B model on an 8 GB laptop ----------------------------------
_LAPTOP_OPTIONS = ("fp16", "Q8_0", "Q4_K_M", "Q2_K")

if "10.laptop_format" not in REGISTRY:
    register(
        "10.laptop_format",
        solution="Q4_K_M",
        wrong=("fp16", "Q8_0", "Q2_K"),
        checker=choice(
            "Q4_K_M",
            _LAPTOP_OPTIONS,
            traps={"fp16": "ex.10.laptop_fp16", "Q8_0": "ex.10.laptop_q8", "Q2_K": "ex.10.laptop_q2"},
        ),
        messages={
            "ex.10.laptop_fp16": {
                "en": "7 billion × 2 bytes = 14 GB: it does not fit in 8 GB at all.",
                "tr": "7 milyar × 2 bayt = 14 GB: 8 GB'a hiç sığmaz.",
            },
            "ex.10.laptop_q8": {
                "en": "8.5 bits × 7 billion ≈ 7.4 GB of weights leaves nothing for the operating system, the KV cache "
                "and the activations.",
                "tr": "8,5 bit × 7 milyar ≈ 7,4 GB ağırlık; işletim sistemine, KV önbelleğine ve aktivasyonlara yer "
                "bırakmaz.",
            },
            "ex.10.laptop_q2": {
                "en": "it fits, but 2-3 bits is the class where quality drops steeply (the scoreboard's INT3 row). "
                "Take the largest format that fits with room to spare.",
                "tr": "sığar, ama 2-3 bit kalitenin hızla düştüğü sınıftır (skor tablosunun INT3 satırı). Rahatça "
                "sığan en büyük biçimi seçin.",
            },
        },
    )
