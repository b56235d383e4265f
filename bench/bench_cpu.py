"""CPU benchmark: qlab's numpy kernels against bitsandbytes' CPU kernels and a memory floor.

One process, interleaved rounds (every contender runs once per round, in turn), so machine
noise hits all of them alike; the table reports the median of each contender.

The floor is the cheapest full pass over the input: ``np.copyto`` into an array allocated once,
before timing (an allocating ``x.copy()`` also pays for fresh pages, about twice as much on a
2-core machine, and would flatter every ratio). Each ratio is a contender's median over the
floor's median in the same dtype.

Threads are fixed (default 1, ``--threads N``): OMP_NUM_THREADS, MKL_NUM_THREADS and
OPENBLAS_NUM_THREADS are set before numpy, torch and bitsandbytes load, and torch's intra-op pool
is set to the same number. numpy's elementwise kernels (qlab, the floor) run on one thread anyway.

Both libraries are asked for NF4 explicitly (``quant_type="nf4"``, 64-value blocks):
bitsandbytes' default 4-bit type is FP4.

    python bench/bench_cpu.py                   # 4096 x 4096, fp32 and fp16, 15 rounds, 1 thread
    python bench/bench_cpu.py --quick           # 1024 x 1024, 3 rounds: checks that it runs
    python bench/bench_cpu.py --threads 2 --rounds 25

Speed is measured here, never in a timed test. The output ends with a Markdown table for the
README and the targets (NF4 quantize <= 6x floor, dequantize <= 2x floor, faster than
bitsandbytes in every dtype), met or missed by how much.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from collections.abc import Callable

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
BLOCKSIZE = 64
QUANT_TYPE = "nf4"
FLOOR = "floor: np.copyto"
# (operation, qlab contender, bitsandbytes contender, target ratio to the floor or None)
ROWS = (
    ("NF4 quantize", "qlab nf4 quantize", "bnb nf4 quantize", 6.0),
    ("NF4 dequantize", "qlab nf4 dequantize", "bnb nf4 dequantize", 2.0),
    ("INT8 vectorwise quantize", "qlab int8 vectorwise", "bnb int8 vectorwise", None),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=int, default=None, help="matrix side (default 4096; 1024 with --quick)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 15; 3 with --quick)"
    )
    parser.add_argument("--dtypes", nargs="+", default=["float32", "float16"])
    parser.add_argument(
        "--threads", type=int, default=1, help="threads for torch, OpenMP and BLAS (default 1)"
    )
    parser.add_argument(
        "--quick", action="store_true", help="a small, fast run that only checks the benchmark works"
    )
    args = parser.parse_args(argv)
    args.size = args.size or (1024 if args.quick else 4096)
    args.rounds = args.rounds or (3 if args.quick else 15)
    if args.threads < 1 or args.rounds < 1 or args.size < 64:
        parser.error("--threads and --rounds must be >= 1, --size >= 64")
    return args


def fix_threads(n: int) -> None:
    """Pin every thread pool to ``n`` threads; must run before numpy, torch or bitsandbytes is imported."""
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)


def contenders(x_np, x_t) -> dict[str, Callable[[], object]]:
    import bitsandbytes.functional as F
    import numpy as np

    import qlab

    floor_out = np.empty_like(x_np)  # allocated once: the floor times the pass, not the allocation
    packed, state = qlab.quantize_4bit(x_np, blocksize=BLOCKSIZE, quant_type=QUANT_TYPE)
    bnb_packed, bnb_state = F.quantize_4bit(x_t, blocksize=BLOCKSIZE, quant_type=QUANT_TYPE)
    # bitsandbytes' AVX512 dequantize mis-indexes some 2-D shapes; give it the flat shape (same work)
    bnb_state.shape = type(bnb_state.shape)([x_t.numel()])
    return {
        FLOOR: lambda: np.copyto(floor_out, x_np),
        "qlab nf4 quantize": lambda: qlab.quantize_4bit(x_np, blocksize=BLOCKSIZE, quant_type=QUANT_TYPE),
        "bnb nf4 quantize": lambda: F.quantize_4bit(x_t, blocksize=BLOCKSIZE, quant_type=QUANT_TYPE),
        "qlab nf4 dequantize": lambda: qlab.dequantize_4bit(packed, state, quant_type=QUANT_TYPE),
        "bnb nf4 dequantize": lambda: F.dequantize_4bit(bnb_packed, bnb_state, quant_type=QUANT_TYPE),
        "qlab int8 vectorwise": lambda: qlab.int8_vectorwise_quant(x_np),
        "bnb int8 vectorwise": lambda: F.int8_vectorwise_quant(x_t),  # threshold 0: A is not modified
    }


def run(size: int, dtype: str, rounds: int) -> dict[str, float]:
    """Median milliseconds per contender for one dtype."""
    import numpy as np
    import torch

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


def verdicts(results: dict[str, dict[str, float]]) -> list[str]:
    """The targets, met or missed by how much, for every dtype measured."""
    lines = []
    for dtype, ms in results.items():
        floor = ms[FLOOR]
        for operation, ours, theirs, target in ROWS:
            ratio = ms[ours] / floor
            if target is not None:
                met = "met" if ratio <= target else f"MISSED by {ratio / target:.2f}x"
                lines.append(f"{dtype} {operation}: {ratio:.1f}x floor, target <= {target:g}x: {met}")
            speedup = ms[theirs] / ms[ours]
            met = "met" if speedup > 1 else f"MISSED: bitsandbytes is {1 / speedup:.2f}x faster"
            lines.append(f"{dtype} {operation}: qlab {speedup:.2f}x as fast as bitsandbytes: {met}")
    return lines


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    fix_threads(args.threads)

    import logging

    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    import bitsandbytes
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    command = "python bench/bench_cpu.py " + shlex.join(sys.argv[1:] if argv is None else argv)
    cpu = platform.processor() or platform.machine()
    print(f"command: {command.strip()}")
    print(
        f"machine: {cpu}, {os.cpu_count()} CPUs; python {platform.python_version()}, torch {torch.__version__}, "
        f"numpy {np.__version__}, bitsandbytes {bitsandbytes.__version__}"
    )
    print(
        f"threads: {args.threads} (torch intra-op {torch.get_num_threads()}; "
        + ", ".join(f"{v}={os.environ[v]}" for v in THREAD_VARIABLES)
        + ")"
    )
    print(
        f"work: {args.size} x {args.size} normal weights (sigma 0.02), {QUANT_TYPE} blocks of {BLOCKSIZE}; "
        f"{args.rounds} interleaved rounds, medians"
        + ("; QUICK RUN: checks that the benchmark works, not figures for the README" if args.quick else "")
    )

    results = {}
    for dtype in args.dtypes:
        results[dtype] = ms = run(args.size, dtype, args.rounds)
        print(f"\n{dtype}: {'contender':<22} {'median ms':>10} {'x floor':>8}")
        for name, value in ms.items():
            print(f"{'':9}{name:<22} {value:>10.2f} {value / ms[FLOOR]:>8.2f}")

    print("\n| operation | dtype | qlab ms | bitsandbytes ms | qlab / floor | bitsandbytes / floor |")
    print("|---|---|---:|---:|---:|---:|")
    for dtype, ms in results.items():
        floor = ms[FLOOR]
        print(f"| floor: `np.copyto` into a preallocated array | {dtype} | {floor:.2f} | | 1.0 | |")
        for operation, ours, theirs, _ in ROWS:
            print(
                f"| {operation} | {dtype} | {ms[ours]:.2f} | {ms[theirs]:.2f} | "
                f"{ms[ours] / floor:.1f} | {ms[theirs] / floor:.1f} |"
            )
    print("\n" + "\n".join(verdicts(results)))


if __name__ == "__main__":
    main()
