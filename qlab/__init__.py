"""qlab: the quantization library behind the qlab course.

One small module per lesson; the public names below are what the notebooks call.
Names are imported lazily (on first use), so ``import qlab`` is instant and does
not load torch or bitsandbytes until a function that needs them runs.

=====================  ===========================  ==========================
lesson                 module                       main names
=====================  ===========================  ==========================
01 number formats      ``qlab.floats``              decompose, compose, ...
02 absmax              ``qlab.absmax``              absmax_quantize
03 zero-point          ``qlab.zeropoint``           zeropoint_quantize
04 granularity         ``qlab.granularity``         (shared reshaping)
05 LLM.int8()          ``qlab.llm_int8``            int8_vectorwise_quant, llm_int8_matmul
06 4-bit: FP4 / NF4    ``qlab.codebooks``           create_normal_map, NF4, FP4
                       ``qlab.fourbit``             quantize_4bit, dequantize_4bit
                       ``qlab.blockwise``           quantize_blockwise (8-bit dynamic)
all                    ``qlab.metrics``             mse, sqnr_db, bits_per_parameter
real models            ``qlab.models``              load_minilm, quantize_model, perplexity
command line           ``qlab.compare``             ``python -m qlab compare``
=====================  ===========================  ==========================

How the work is split between numpy and bitsandbytes: :mod:`qlab.backend`.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# PyTorch's CPU threads busy-wait between parallel regions. When the cores are shared (a browser, another
# notebook, a 2-core CI machine), that makes a 2-thread forward pass 6x slower than a 1-thread one
# (SmolLM2 on 512 tokens: 8 s instead of 1.3 s, measured). Sleeping instead of spinning removes it. It only
# takes effect if set before torch is first imported; `make lab` and `make test` export it too.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # float formats
    "FloatFormat": "floats",
    "FORMATS": "floats",
    "decompose": "floats",
    "compose": "floats",
    "representable_values": "floats",
    "format_table": "floats",
    "cast_to_format": "floats",
    # absmax / zero-point at any granularity
    "absmax_quantize": "absmax",
    "absmax_dequantize": "absmax",
    "AbsmaxParams": "absmax",
    "zeropoint_quantize": "zeropoint",
    "zeropoint_dequantize": "zeropoint",
    "ZeropointParams": "zeropoint",
    # clipping (calibration) before absmax
    "clip_percentile": "calibration",
    "mse_optimal_clip": "calibration",
    "mse_versus_clip": "calibration",
    "absmax_quantize_clipped": "calibration",
    # LLM.int8()
    "int8_vectorwise_quant": "llm_int8",
    "int8_vectorwise_dequant": "llm_int8",
    "find_outlier_columns": "llm_int8",
    "llm_int8_matmul": "llm_int8",
    "llm_int8_linear": "llm_int8",
    # code tables
    "create_normal_map": "codebooks",
    "create_dynamic_map": "codebooks",
    "create_linear_map": "codebooks",
    "create_fp8_map": "codebooks",
    "get_4bit_type": "codebooks",
    "nf4_values": "codebooks",
    "dynamic_map_values": "codebooks",
    "get_4bit_code": "codebooks",
    "NF4_CODE": "codebooks",
    "FP4_CODE": "codebooks",
    # 8-bit blockwise and 4-bit
    "quantize_blockwise": "blockwise",
    "dequantize_blockwise": "blockwise",
    "BlockwiseState": "blockwise",
    "quantize_4bit": "fourbit",
    "dequantize_4bit": "fourbit",
    "quantize_nf4": "fourbit",
    "quantize_fp4": "fourbit",
    "dequantize_nf4": "fourbit",
    "dequantize_fp4": "fourbit",
    "QuantState": "fourbit",
    # calibration-based quantization (lesson 08)
    "gptq_quantize": "gptq",
    "gptq_dequantize": "gptq",
    "gptq_hessian": "gptq",
    "awq_quantize": "awq",
    "awq_dequantize": "awq",
    # Apple MLX's affine group-wise format (lesson 10)
    "mlx_quantize": "mlx_quant",
    "mlx_dequantize": "mlx_quant",
    # metrics
    "mse": "metrics",
    "sqnr_db": "metrics",
    "max_abs_error": "metrics",
    "storage_bytes": "metrics",
    "bits_per_parameter": "metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'qlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"qlab.{module}"), name)
    globals()[name] = value  # cache: the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return __all__
