"""One QLoRA training step on CPU: qlab's NF4+DQ base against LoRA on fp32 and bitsandbytes + peft.

Three contenders, all SmolLM2-135M, batch 4 x 128 tokens of the shipped text, LoRA r=8,
lora_alpha=16, no dropout, on all seven projections (q, k, v, o, gate, up, down), AdamW
(lr 1e-4) on the adapters only, in train mode, one ``forward + backward + optimizer step``:

* ``fp32 LoRA``: :func:`qlab.lora.add_lora` on the fp32 model;
* ``qlab QLoRA``: :func:`qlab.models.quantize.quantize_model` ``"nf4-dq"`` (NF4, blocks of 64,
  double quantization), then :func:`qlab.lora.add_lora`;
* ``bnb QLoRA``: bitsandbytes ``Linear4bit`` NF4 + double quantization (float32 compute dtype)
  loaded through ``BitsAndBytesConfig`` from a plain ``LlamaForCausalLM`` copy of the same
  weights, ``prepare_model_for_kbit_training(use_gradient_checkpointing=False)``, peft
  ``LoraConfig`` / ``get_peft_model``. Train mode only: an eval-mode forward without grad
  would repack bitsandbytes' weights on AVX512-BF16 CPUs (see docs / the ecosystem notes).

One process, interleaved: every round runs one step of each contender, the order rotating
from round to round, so machine noise hits all alike; the table gives each median and the
ratios. One warm-up step each is not timed. Threads are fixed (default 1, printed):
on a 2-core machine shared with other work, torch at 2 threads becomes pathologically slow.

    python bench/bench_qlora.py                 # 3 rounds, 1 thread
    python bench/bench_qlora.py --rounds 5 --threads 2
    python bench/bench_qlora.py --profile       # also: where qlab's QLoRA step spends its time

Targets: qlab QLoRA <= 1.5 x fp32 LoRA and <= 1.25 x bnb QLoRA.
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time

TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--profile", action="store_true", help="profile one qlab QLoRA step")
    parser.add_argument("--no-bnb", action="store_true", help="skip bitsandbytes + peft")
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

    import torch

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    from qlab._bnb import import_bnb
    from qlab.lora import add_lora, trainable_parameters
    from qlab.models.loading import load_smollm2
    from qlab.models.quantize import quantize_model
    from qlab.models.text import load_text

    loaded = load_smollm2(verbose=False)
    base = loaded.model
    ids = loaded.tokenizer(load_text(), return_tensors="pt")["input_ids"][0]
    n = args.batch * args.tokens
    batch = ids[:n].reshape(args.batch, args.tokens)

    contenders: dict[str, torch.nn.Module] = {}
    qmodel, _ = quantize_model(base, "nf4-dq")
    counts = {"qlab QLoRA": add_lora(qmodel, r=8, lora_alpha=16, target_modules=TARGETS)}
    fmodel = copy.deepcopy(base)
    counts["fp32 LoRA"] = add_lora(fmodel, r=8, lora_alpha=16, target_modules=TARGETS)
    contenders["fp32 LoRA"], contenders["qlab QLoRA"] = fmodel, qmodel
    if not args.no_bnb:
        import_bnb()
        from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig, LlamaForCausalLM

        config = copy.deepcopy(base.config)
        if hasattr(config, "quantization_config"):  # the GGUF origin would clash with BitsAndBytesConfig
            del config.quantization_config
        plain = LlamaForCausalLM(config)
        plain.load_state_dict(base.state_dict())
        with tempfile.TemporaryDirectory() as tmp:
            plain.save_pretrained(tmp)
            del plain
            config = BitsAndBytesConfig(
                load_in_4bit=True,
                bnb_4bit_quant_type="nf4",
                bnb_4bit_use_double_quant=True,
                bnb_4bit_compute_dtype=torch.float32,
            )
            bmodel = LlamaForCausalLM.from_pretrained(tmp, quantization_config=config, device_map="cpu")
        bmodel = prepare_model_for_kbit_training(bmodel, use_gradient_checkpointing=False)
        lora = LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=list(TARGETS))
        bmodel = get_peft_model(bmodel, lora)
        counts["bnb QLoRA"] = trainable_parameters(bmodel)
        contenders["bnb QLoRA"] = bmodel
    del base

    optimizers = {}
    for name, model in contenders.items():
        model.train()
        optimizers[name] = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def step(name: str) -> float:
        model, opt = contenders[name], optimizers[name]
        t0 = time.perf_counter()
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return time.perf_counter() - t0

    names = list(contenders)
    losses = {}
    for name in names:  # warm-up (not timed); also the first loss of each
        step(name)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(args.rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            times[name].append(step(name))
            print(f"round {r + 1}: {name} {times[name][-1]:.2f} s", file=sys.stderr, flush=True)
    for name in names:
        model = contenders[name]
        with torch.enable_grad():  # train mode, grad on: never an eval-mode no-grad forward (bnb trap)
            losses[name] = float(model(input_ids=batch, labels=batch).loss)

    med = {name: statistics.median(ts) for name, ts in times.items()}
    cmd = "python " + " ".join(shlex.quote(a) for a in ["bench/bench_qlora.py", *sys.argv[1:]])
    print(f"command: {cmd}")
    print(
        f"torch {torch.__version__}, {args.threads} thread(s), {platform.machine()}, "
        f"{os.cpu_count()} CPUs visible; batch {args.batch} x {args.tokens} tokens; "
        f"{args.rounds} interleaved rounds (+1 warm-up), median seconds per step"
    )
    print()
    print("| contender | trainable params | s/step (median) | all rounds (s) | loss after |")
    print("|---|---:|---:|---|---:|")
    for name in names:
        rounds = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {counts[name]:,} | {med[name]:.2f} | {rounds} | {losses[name]:.4f} |")
    print()
    q, f = med["qlab QLoRA"], med["fp32 LoRA"]
    print(f"qlab QLoRA / fp32 LoRA = {q / f:.2f} (target <= 1.5: {'met' if q / f <= 1.5 else 'MISSED'})")
    if "bnb QLoRA" in med:
        b = med["bnb QLoRA"]
        print(
            f"qlab QLoRA / bnb QLoRA = {q / b:.2f} (target <= 1.25: {'met' if q / b <= 1.25 else 'MISSED'})"
        )
        print(f"bnb QLoRA / fp32 LoRA  = {b / f:.2f}")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile

        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step("qlab QLoRA")
        print()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


if __name__ == "__main__":
    main()
