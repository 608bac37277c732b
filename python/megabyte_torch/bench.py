"""The PyTorch side of `megabyte bench train`: the same model, measured on the same machine.

  PYTHONPATH=python python3 -m megabyte_torch.bench --config CONFIG.json --mode train|generate \\
      --batch B --length T --steps N --warmup W --threads N --seed S --json OUT

train: AdamW steps (lr 1e-3, weight decay 0.1 on matrices, betas (0.9, 0.98), clip 1.0: our
trainer's recipe) on seeded random bytes [B, T]; msPerStep is one optimizer step.
generate: KV-cached sampling of T bytes per sequence (B sequences at once, 1 by default in our
bench); a step is one decoded byte, so msPerStep is per byte and bytesPerSecond counts all B.
Written as a PyTorch user would: fused attention (F.scaled_dot_product_attention) where torch has
it, torch.compile where available (falling back to eager when compilation fails, which is said),
torch's foreach AdamW. Prints one line, writes the JSON. Exit code 3 when torch is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m megabyte_torch.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, help="a model config.json (either form), or a checkpoint directory")
    parser.add_argument("--mode", choices=["train", "generate"], required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--length", type=int, required=True, help="bytes per sequence (T)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="where to write the result")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, ...")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    args = parser.parse_args(argv)
    for name in ("batch", "length", "steps", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1, got {getattr(args, name)}")
    if args.warmup < 0:
        parser.error(f"--warmup must be at least 0, got {args.warmup}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import torch
    except ImportError:
        print("megabyte_torch.bench: torch is not installed (apt-get install python3-torch, or pip install torch)",
              file=sys.stderr)
        return 3
    from .checkpoint import CheckpointError, read_config
    from .config import ConfigError, parse_config

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    try:
        if os.path.isdir(args.config):
            config = read_config(args.config)
        else:
            with open(args.config, encoding="utf-8-sig") as file:
                config = parse_config(json.load(file))
    except (OSError, json.JSONDecodeError, ConfigError, CheckpointError) as error:
        print(f"megabyte_torch.bench: cannot read --config {args.config}: {error}", file=sys.stderr)
        return 2
    if args.length > config.context_length:
        print(f"megabyte_torch.bench: --length {args.length} exceeds the model's context of "
              f"{config.context_length}", file=sys.stderr)
        return 2
    result = (bench_train if args.mode == "train" else bench_generate)(config, args)
    result = {"engine": "pytorch", "mode": args.mode, **result, "threads": args.threads,
              "torch": torch.__version__, "batch": args.batch, "length": args.length, "steps": args.steps}
    compiled = "compiled" if result["compiled"] else f"eager ({result['compileNote']})"
    print(f"pytorch {torch.__version__} {args.mode}: {result['bytesPerSecond']:.0f} bytes/s, "
          f"{result['msPerStep']:.2f} ms/step, {result['parameters']} parameters, {args.threads} threads, "
          f"{compiled}, B={args.batch} T={args.length}")
    if args.json:
        write_json(args.json, result)
    return 0


def maybe_compile(model, args, run_once):
    """torch.compile where torch has it and it works here; else eager, with the reason."""
    import torch

    if args.no_compile:
        return model, False, "--no-compile"
    if not hasattr(torch, "compile"):
        return model, False, f"torch {torch.__version__} has no torch.compile"
    try:
        compiled = torch.compile(model)
        run_once(compiled)
        return compiled, True, ""
    except Exception as error:  # a missing C++ compiler, an unsupported op: measure eager instead
        return model, False, f"torch.compile failed: {type(error).__name__}"


def bench_train(config, args) -> dict:
    import torch

    from .model import create_model
    from .optim import adamw

    device = torch.device(args.device)
    model = create_model(config).to(device).train()
    optimizer = adamw(model, lr=1e-3, weight_decay=0.1, betas=(0.9, 0.98))
    generator = torch.Generator().manual_seed(args.seed)
    batches = [torch.randint(0, 256, (args.batch, args.length), generator=generator).to(device)
               for _ in range(args.warmup + args.steps)]

    def step(net, ids):
        optimizer.zero_grad(set_to_none=True)
        _loss(net, ids).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()

    net, compiled, note = maybe_compile(model, args, lambda net: step(net, batches[0]))
    for ids in batches[:args.warmup]:
        step(net, ids)
    seconds = timed(device, lambda: [step(net, ids) for ids in batches[args.warmup:]])
    per_step = seconds / args.steps
    return {"bytesPerSecond": args.batch * args.length / per_step, "msPerStep": per_step * 1000,
            "parameters": parameter_count(model), "compiled": compiled, "compileNote": note}


def _loss(net, ids):
    """Mean cross-entropy through `net` itself, so that a compiled module runs compiled (the random
    bytes hold no padding, so this is the model's own loss)."""
    import torch.nn.functional as F

    logits = net(ids)
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids.reshape(-1))


def bench_generate(config, args) -> dict:
    import torch

    from .generate import generate
    from .model import create_model

    device = torch.device(args.device)
    model = create_model(config).to(device).eval()
    generator = torch.Generator(device=device).manual_seed(args.seed)
    run = lambda: generate(model, args.length, batch=args.batch, generator=generator)  # noqa: E731
    for _ in range(args.warmup):
        run()
    seconds = timed(device, lambda: [run() for _ in range(args.steps)])
    per_byte = seconds / (args.steps * args.length)
    return {"bytesPerSecond": args.batch / per_byte, "msPerStep": per_byte * 1000,
            "parameters": parameter_count(model), "compiled": False,
            "compileNote": "decoding steps run eagerly (shapes change every byte)"}


def timed(device, work) -> float:
    import torch

    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    work()
    sync()
    return time.perf_counter() - started


def parameter_count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def write_json(path: str, result: dict) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    temporary = f"{path}.tmp-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as file:
        json.dump(result, file, indent=2)
        file.write("\n")
    os.replace(temporary, path)


if __name__ == "__main__":
    sys.exit(main())
