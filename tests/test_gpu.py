"""The CUDA path (bitsandbytes' kernels) and numpy <-> CUDA parity. Skipped without a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_data

import qlab

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
]


@pytest.mark.parametrize("quant_type", ["nf4", "fp4"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_cuda_4bit_runs_on_the_gpu_and_agrees_with_numpy(quant_type, dtype):
    x = torch.from_numpy(make_data("heavy_tailed", (256, 512))).to(dtype)
    packed_gpu, state_gpu = qlab.quantize_4bit(x.cuda(), quant_type=quant_type, blocksize=64)
    assert packed_gpu.is_cuda and state_gpu.absmax.is_cuda
    packed_cpu, state_cpu = qlab.quantize_4bit(x, quant_type=quant_type, blocksize=64)
    assert torch.equal(state_gpu.absmax.cpu(), state_cpu.absmax)
    # bitsandbytes' CUDA kernel decides codes with its own hard-coded thresholds (FP4 especially),
    # so a few codes differ from the CPU rule; both must still be within half a grid gap.
    same = (packed_gpu.cpu() == packed_cpu).float().mean().item()
    print(f"{quant_type} {dtype}: {same:.4f} of packed bytes identical on GPU and CPU")
    assert same > (0.99 if quant_type == "nf4" else 0.9)
    code = torch.from_numpy(np.sort(qlab.get_4bit_code(quant_type)))
    half_gap = (code[1:] - code[:-1]).max().item() / 2
    scale = state_cpu.absmax.repeat_interleave(64)[: x.numel()].reshape(x.shape)
    gpu_back = qlab.dequantize_4bit(packed_gpu, state_gpu).cpu().float()
    assert torch.all((gpu_back - x.float()).abs() <= half_gap * scale * 1.01 + 1e-3)
    back = qlab.dequantize_4bit(packed_gpu, state_gpu)
    assert back.is_cuda and back.dtype == dtype
    numpy_back = qlab.dequantize_4bit(packed_gpu.cpu(), state_cpu)
    assert torch.allclose(back.cpu().float(), numpy_back.float(), rtol=0, atol=1e-2)


def test_cuda_double_quantization_and_blockwise():
    x = torch.from_numpy(make_data("normal", (64 * 1024,))).cuda()
    packed, state = qlab.quantize_4bit(x, quant_type="nf4", blocksize=64, compress_statistics=True)
    assert state.nested and state.absmax.dtype == torch.uint8
    back = qlab.dequantize_4bit(packed, state)
    assert (back - x).abs().max().item() < 0.02
    codes, bstate = qlab.quantize_blockwise(x, blocksize=256)
    assert codes.is_cuda
    assert torch.allclose(qlab.dequantize_blockwise(codes, bstate), x, atol=1e-3)


def test_cuda_int8_vectorwise_matches_numpy():
    x = torch.from_numpy(make_data("outlier", (64, 256))).cuda()
    codes, stats, cols = qlab.int8_vectorwise_quant(x, threshold=6.0)
    ours, our_stats, our_cols = qlab.int8_vectorwise_quant(x.cpu(), threshold=6.0)
    # the CUDA kernel works in float16: stats agree to fp16 precision, codes within one step
    assert torch.allclose(stats.cpu(), our_stats, rtol=1e-3)
    assert (codes.cpu().int() - ours.int()).abs().max().item() <= 1
    assert torch.equal(cols.cpu(), our_cols)


def test_numpy_backend_on_a_cuda_tensor_returns_to_the_gpu():
    x = torch.from_numpy(make_data("normal", (128,))).cuda()
    packed, state = qlab.quantize_4bit(x, backend="numpy")
    assert packed.is_cuda
    assert np.array_equal(packed.cpu().numpy(), qlab.quantize_4bit(x.cpu().numpy())[0])
