"""CPU benchmark: qlab's numpy kernels against bitsandbytes' CPU kernels and a plain copy.

One process, interleaved rounds (every contender runs once per round, in turn),
so machine noise hits all of them alike. Prints the median per contender and its
ratio to the copy (the memory-bandwidth floor for touching the array once).

    python bench/bench_cpu.py                # 4096 x 4096, fp32 and fp16, 15 rounds
    python bench/bench_cpu.py --rounds 5 --size 2048

Speed is measured here, never in a timed test.
"""

from __future__ import annotations

import argparse
import logging
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

import qlab

logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
import bitsandbytes.functional as F  # noqa: E402


def contenders(x_np: np.ndarray, x_t: torch.Tensor) -> dict[str, Callable[[], object]]:
    packed, state = qlab.quantize_4bit(x_np, "nf4", 64)
    bnb_packed, bnb_state = F.quantize_4bit(x_t, blocksize=64, quant_type="nf4")
    # bitsandbytes' AVX512 dequantize mis-indexes some 2-D shapes; give it the flat shape (same work)
    bnb_state.shape = torch.Size([x_t.numel()])
    return {
        "numpy copy": lambda: x_np.copy(),
        "qlab nf4 quantize": lambda: qlab.quantize_4bit(x_np, "nf4", 64),
        "bnb  nf4 quantize": lambda: F.quantize_4bit(x_t, blocksize=64, quant_type="nf4"),
        "qlab nf4 dequantize": lambda: qlab.dequantize_4bit(packed, state),
        "bnb  nf4 dequantize": lambda: F.dequantize_4bit(bnb_packed, bnb_state),
        "qlab int8 vectorwise": lambda: qlab.int8_vectorwise_quant(x_np),
        "bnb  int8 vectorwise": lambda: F.int8_vectorwise_quant(x_t),
    }


def run(size: int, dtype: str, rounds: int) -> dict[str, float]:
    rng = np.random.default_rng(0)
    x32 = (rng.standard_normal((size, size)) * 0.02).astype(np.float32)
    x_t = torch.from_numpy(x32).to(getattr(torch, dtype))
    x_np = x_t.numpy() if dtype != "bfloat16" else x32
    tasks = contenders(x_np, x_t)
    times: dict[str, list[float]] = {name: [] for name in tasks}
    for task in tasks.values():  # warm-up: caches, page faults, lazy imports
        task()
    for _ in range(rounds):
        for name, task in tasks.items():
            start = time.perf_counter()
            task()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1e3 for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16"])
    args = parser.parse_args()
    print(
        f"# {platform.processor() or platform.machine()}, torch {torch.__version__}, numpy {np.__version__}, "
        f"threads {torch.get_num_threads()}, {args.size}x{args.size}, {args.rounds} rounds"
    )
    for dtype in args.dtypes:
        medians = run(args.size, dtype, args.rounds)
        copy = medians["numpy copy"]
        print(f"\n{dtype}: {'contender':<22} {'median ms':>10} {'x copy':>8}")
        for name, ms in medians.items():
            print(f"{'':9}{name:<22} {ms:>10.1f} {ms / copy:>8.1f}")


if __name__ == "__main__":
    main()
