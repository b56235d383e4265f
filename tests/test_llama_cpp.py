"""qlab against llama.cpp itself (the optional extra, `make llama-cpp`): skipped where it is not installed.

llama.cpp quantizes a GGUF file with ``llama_model_quantize``; with ``pure`` set every 2-D tensor gets
the requested type (or llama.cpp's fallback where a row does not fit the type's super-block).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pytest

llama_cpp = pytest.importorskip("llama_cpp", reason="llama-cpp-python is an optional extra: make llama-cpp")
gguf = pytest.importorskip("gguf")

import qlab.lessons.l09_gguf as l09  # noqa: E402
from qlab import ggml  # noqa: E402
from qlab.gguf_files import requantize_gguf  # noqa: E402
from qlab.metrics import sqnr_db  # noqa: E402
from qlab.models import loading  # noqa: E402

SHIPPED = loading.package_dir(loading.SMOLLM2_PACKAGE, loading.SMOLLM2_PIP) / loading.SMOLLM2_FILE


@pytest.fixture(scope="module")
def f32_file(tmp_path_factory) -> Path:
    return requantize_gguf(SHIPPED, tmp_path_factory.mktemp("llama") / "smollm2-f32.gguf", "F32")


def llama_quantize(src: Path, dst: Path, ftype: int) -> gguf.GGUFReader:
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype, params.pure, params.nthread = ftype, True, 2
    assert llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params)) == 0
    return gguf.GGUFReader(dst)


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0", "Q5_1"])
def test_legacy_types_are_byte_identical_to_llama_cpp(f32_file, tmp_path, qtype):
    reader = llama_quantize(
        f32_file, tmp_path / f"{qtype}.gguf", getattr(llama_cpp, f"LLAMA_FTYPE_MOSTLY_{qtype}")
    )
    source = {t.name: t for t in gguf.GGUFReader(f32_file).tensors}
    compared = 0
    for tensor in reader.tensors:
        if tensor.tensor_type.name != qtype:
            continue
        ours = ggml.quantize(np.asarray(source[tensor.name].data, dtype=np.float32), qtype)
        assert np.array_equal(ours, np.asarray(tensor.data)), tensor.name
        compared += 1
    assert compared >= 210  # every Linear weight (and the embedding) of SmolLM2


def test_q4_k_search_port_matches_llama_cpp(f32_file, tmp_path):
    reader = llama_quantize(f32_file, tmp_path / "q4_k.gguf", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_S)
    source = {t.name: t for t in gguf.GGUFReader(f32_file).tensors}
    kinds = {t.name: t.tensor_type.name for t in reader.tensors}
    # rows of 576 do not fit a 256-value super-block: llama.cpp falls back to Q5_0 for them
    assert kinds["blk.0.ffn_up.weight"] == "Q5_0" and kinds["blk.0.ffn_down.weight"] == "Q4_K"
    same_port = same_simple = blocks = 0
    x_all, port_all, cpp_all = [], [], []
    for tensor in reader.tensors:
        if tensor.tensor_type.name != "Q4_K":
            continue
        x = np.asarray(source[tensor.name].data, dtype=np.float32)
        theirs = np.asarray(tensor.data).reshape(-1, 144)
        port = l09.quantize_q4_k_search(x).reshape(-1, 144)
        same_port += int((port == theirs).all(axis=1).sum())
        same_simple += int((ggml.quantize_q4_k(x).reshape(-1, 144) == theirs).all(axis=1).sum())
        blocks += theirs.shape[0]
        x_all.append(x.ravel())
        port_all.append(ggml.dequantize(port, "Q4_K").ravel())
        cpp_all.append(ggml.dequantize(theirs, "Q4_K").ravel())
    assert blocks == 30 * 576 * 6  # the 30 ffn_down weights: 576 rows of 1536 = 6 super-blocks
    assert same_port / blocks > 0.99  # the port: byte-identical super-blocks almost everywhere
    assert same_simple / blocks < same_port / blocks  # the simple quantizer is not llama.cpp's search
    x, port, cpp = (np.concatenate(a) for a in (x_all, port_all, cpp_all))
    assert abs(sqnr_db(x, port) - sqnr_db(x, cpp)) < 0.01  # where they differ, they differ by float rounding


def test_perplexity_matches_transformers():
    import torch

    from qlab.models.evaluate import evaluation_windows, window_nll

    loaded = loading.load_smollm2(verbose=False, builder="qlab")
    batch, _ = evaluation_windows(loaded.tokenizer, texts=("hamlet",), windows_per_text=2, window_tokens=64)
    with torch.no_grad():
        hf = window_nll(loaded.model, batch)
    llm = llama_cpp.Llama(
        model_path=str(SHIPPED), n_ctx=64, n_batch=64, logits_all=True, n_threads=2, verbose=False
    )
    cpp = l09.llama_cpp_window_nll(llm, batch)
    assert np.all(np.abs(np.exp(cpp) / np.exp(np.asarray(hf)) - 1) < 0.05)  # per-window perplexity within 5 %
