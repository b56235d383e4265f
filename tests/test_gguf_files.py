"""qlab.gguf_files: reading SmolLM2's shipped GGUF, and writing a re-quantized copy that reads back."""

from __future__ import annotations

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")

from qlab import ggml  # noqa: E402
from qlab.gguf_files import gguf_summary, requantize_gguf  # noqa: E402


@pytest.fixture(scope="module")
def shipped():
    """An open reader of SmolLM2's GGUF (parsing it takes seconds: done once here)."""
    from qlab.models.loading import SMOLLM2_FILE, SMOLLM2_PACKAGE, SMOLLM2_PIP, package_dir

    try:
        path = package_dir(SMOLLM2_PACKAGE, SMOLLM2_PIP) / SMOLLM2_FILE
    except Exception as error:
        pytest.skip(str(error))
    return gguf.GGUFReader(path)


def test_summary_of_the_shipped_file(shipped):
    s = gguf_summary(shipped)
    assert s.version == 3 and s.metadata["general.architecture"] == "llama"
    assert s.metadata["llama.block_count"] == 30 and s.metadata["llama.embedding_length"] == 576
    assert s.metadata["tokenizer.ggml.tokens"] == "[49152 items]"
    assert "tokenizer.chat_template" in s.metadata
    assert set(s.bytes_by_type()) == {"F32", "Q4_1", "Q8_0"}
    q41 = next(t for t in s.tensors if t.type == "Q4_1")
    assert q41.n_bytes == ggml.bytes_per_row(q41.shape[1], "Q4_1") * q41.shape[0]
    assert sum(t.n_bytes for t in s.tensors) < s.file_bytes  # the rest is header, metadata, table, padding


def test_requantize_a_few_tensors_reads_back(shipped, tmp_path):
    names = {"blk.0.attn_q.weight", "blk.0.ffn_down.weight"}
    dst = tmp_path / "smollm2-q8_0-partial.gguf"
    assert (
        requantize_gguf(shipped, dst, "Q8_0", choose=lambda n, shape: "Q8_0" if n in names else None) == dst
    )
    written = gguf.GGUFReader(dst)
    summary = gguf_summary(written)
    types = {t.name: t.type for t in summary.tensors}
    assert all(types[n] == "Q8_0" for n in names) and types["blk.1.attn_q.weight"] == "Q4_1"
    src = {t.name: t for t in shipped.tensors}
    new = {t.name: t for t in written.tensors}
    assert set(src) == set(new)
    for name in names:
        original = ggml.dequantize(np.asarray(src[name].data), "Q4_1")
        assert np.array_equal(np.asarray(new[name].data), ggml.quantize(original, "Q8_0"))
    untouched = "blk.1.attn_q.weight"
    assert np.array_equal(np.asarray(new[untouched].data), np.asarray(src[untouched].data))
    assert summary.metadata["tokenizer.ggml.tokens"] == "[49152 items]"
    assert (
        summary.metadata["tokenizer.chat_template"]
        == gguf_summary(shipped).metadata["tokenizer.chat_template"]
    )


def test_errors(tmp_path, shipped):
    with pytest.raises(FileNotFoundError):
        gguf_summary(tmp_path / "nope.gguf")
    with pytest.raises(ValueError, match="unknown type"):
        requantize_gguf(shipped, tmp_path / "x.gguf", "Q9_9")


def test_open_gguf_reads_what_gguf_reads(shipped):
    """The faster reader: the same fields (names, types, values) and the same tensors, byte for byte."""
    from qlab.gguf_files import open_gguf

    fast = open_gguf(shipped.data.filename)
    assert isinstance(fast, gguf.GGUFReader) and list(fast.fields) == list(shipped.fields)
    for name, field in shipped.fields.items():
        other = fast.fields[name]
        assert other.types == field.types and other.data == field.data
        assert all(np.array_equal(a, b) for a, b in zip(other.parts, field.parts, strict=True))
    assert [(t.name, t.tensor_type, t.data_offset) for t in fast.tensors] == [
        (t.name, t.tensor_type, t.data_offset) for t in shipped.tensors
    ]
    assert all(np.array_equal(a.data, b.data) for a, b in zip(fast.tensors, shipped.tensors, strict=True))
    with pytest.raises(FileNotFoundError, match="no GGUF file"):
        open_gguf("/nonexistent/model.gguf")
