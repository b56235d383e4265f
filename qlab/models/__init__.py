"""Real pretrained models for qlab: offline loading, whole-model quantization, evaluation, outliers.

==================  =====================================================
module              main names
==================  =====================================================
``loading``         load_minilm, load_smollm2, load_hf, save_plain_checkpoint, LoadedModel
``text``            load_text, load_sentences (shipped real text)
``quantize``        FORMATS, quantize_model, QuantizedLinear, LLMInt8Linear
``evaluate``        perplexity, perplexity_windows (with a bootstrap interval), paired_difference,
                    encode, embedding_agreement, model_footprint_bytes
``outliers``        find_outlier_features (LLM.int8() emergent features)
``capture``         capture_inputs (the real inputs of chosen Linear layers)
``precision``       in_float64 (results that do not depend on the CPU)
==================  =====================================================

Importing this package is cheap; torch and transformers load when a function runs.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS: dict[str, str] = {
    "LoadedModel": "loading",
    "ModelFilesError": "loading",
    "load_minilm": "loading",
    "load_smollm2": "loading",
    "load_hf": "loading",
    "wrap_hf_model": "loading",
    "save_plain_checkpoint": "loading",
    "load_text": "text",
    "load_sentences": "text",
    "FORMATS": "quantize",
    "WeightFormat": "quantize",
    "QuantizedLinear": "quantize",
    "LLMInt8Linear": "quantize",
    "quantize_model": "quantize",
    "perplexity": "evaluate",
    "perplexity_from_ids": "evaluate",
    "encode": "evaluate",
    "embedding_agreement": "evaluate",
    "model_footprint_bytes": "evaluate",
    "perplexity_windows": "evaluate",
    "paired_difference": "evaluate",
    "PerplexityResult": "evaluate",
    "PairedDifference": "evaluate",
    "evaluation_windows": "evaluate",
    "window_nll": "evaluate",
    "find_outlier_features": "outliers",
    "OutlierReport": "outliers",
    "capture_inputs": "capture",
    "linear_names": "capture",
    "in_float64": "precision",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qlab.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"qlab.models.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
