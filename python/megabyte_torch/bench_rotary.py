"""Does cross-patch attention want rotary position embeddings? Held-out bits per byte, measured.

  PYTHONPATH=python python3 -m megabyte_torch.bench_rotary --data ../shared/data/tinyshakespeare.txt \\
      --steps 600 --seeds 0 1 --threads 1 --json bench-rotary.json

The paper's cross-patch attention lets the local model attend to the last r positions of the
previous patch, with rotary embeddings. With learned absolute positions only, added to the local
input, a key of the previous patch at position p carries the same position as the patch's own key
at p. This trains one small MEGABYTE once per variant and seed, with
the same initial weights (no variant adds a parameter), the same windows and the same recipe
(`megabyte_torch.train`: AdamW, warm-up then cosine), and scores each on the held-out tail of the
data (the last --validation share of the file, non-overlapping windows of the context):

  no cross-patch       learned positions, the local model sees its own patch only
  cross-patch          + the last r positions of the previous patch (learned positions only)
  cross-patch rotary   + rotary embeddings in the local attention (byte level `rotary: true`)
  rotary only          rotary embeddings without cross-patch: how much of the gain is rotary's own

Prints a table and writes the JSON (every run's held-out and last training bits per byte).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from .train import main as train

# Small enough for ~10 minutes per run on one CPU thread: 256-byte windows of 32 patches of 8.
BASE_CONFIG = {
    "kind": "megabyte", "contextLength": 256, "mlpRatio": 4,
    "levels": [{"patchSize": 8, "byteDim": 16, "layers": 3, "heads": 4}, {"dim": 64, "layers": 2, "heads": 4}],
}
VARIANTS = {
    "no cross-patch": {},
    # Explicit: since checkpoint format 2 a byte level with crossPatch and no "rotary" has rotary.
    "cross-patch": {"crossPatch": 4, "rotary": False},
    "cross-patch rotary": {"crossPatch": 4, "rotary": True},
    "rotary only": {"rotary": True},
}


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m megabyte_torch.bench_rotary",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="a text file (or directory) to train on; its tail is held out")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--warmup", type=int, default=60)
    parser.add_argument("--cross-patch", type=int, default=4, help="r, positions of the previous patch attended to")
    parser.add_argument("--eval-windows", type=int, default=400, help="held-out windows scored (at most the tail)")
    parser.add_argument("--validation", type=float, default=0.1)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    parser.add_argument("--json", help="where to write the results")
    parser.add_argument("--runs", help="keep the run directories here (default: a temporary directory)")
    return parser.parse_args(argv)


def config_of(variant: str, cross_patch: int) -> dict:
    local = {**BASE_CONFIG["levels"][-1], **VARIANTS[variant]}
    if "crossPatch" in local:
        local["crossPatch"] = cross_patch
    return {**BASE_CONFIG, "levels": [*BASE_CONFIG["levels"][:-1], local]}


def run_one(args: argparse.Namespace, variant: str, seed: int, root: str) -> dict:
    run = os.path.join(root, f"{variant.replace(' ', '-')}-seed{seed}")
    os.makedirs(run, exist_ok=True)
    config_path = os.path.join(run, "model-config.json")
    with open(config_path, "w", encoding="utf-8") as file:
        json.dump(config_of(variant, args.cross_patch), file)
    started = time.perf_counter()
    code = train(["--config", config_path, "--data", args.data, "--run", run, "--steps", str(args.steps),
                  "--batch", str(args.batch), "--lr", str(args.lr), "--warmup", str(args.warmup),
                  "--seed", str(seed), "--threads", str(args.threads), "--validation", str(args.validation),
                  "--eval-every", "0", "--eval-windows", str(args.eval_windows), "--checkpoint-every", "0",
                  "--log-every", "10", "--keep-last", "1"])
    seconds = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"megabyte_torch.bench_rotary: training {variant} (seed {seed}) failed with exit code {code}")
    with open(os.path.join(run, "metrics.jsonl"), encoding="utf-8") as file:
        lines = [json.loads(line) for line in file]
    held_out = [line["bitsPerByte"] for line in lines if line["type"] == "eval"][-1]
    train_bpb = [line["bitsPerByte"] for line in lines if line["type"] == "step"][-5:]  # the last 50 steps
    return {"variant": variant, "seed": seed, "heldOutBitsPerByte": held_out,
            "trainBitsPerByteLast50Steps": sum(train_bpb) / len(train_bpb), "seconds": seconds,
            "config": config_of(variant, args.cross_patch)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    with tempfile.TemporaryDirectory(prefix="bench-rotary-") as scratch:
        root = args.runs or scratch
        results = []
        for seed in args.seeds:
            for variant in args.variants:
                results.append(run_one(args, variant, seed, root))
                print(f"{variant} seed {seed}: held-out {results[-1]['heldOutBitsPerByte']:.4f} bpb", flush=True)
    means = {v: sum(r["heldOutBitsPerByte"] for r in results if r["variant"] == v) / len(args.seeds)
             for v in args.variants}
    print(f"\nheld-out bits per byte, {args.steps} steps of {args.batch} x {BASE_CONFIG['contextLength']} bytes, "
          f"r = {args.cross_patch}, data {os.path.basename(args.data)}")
    seeds = " ".join(f"{'seed ' + str(s):>9}" for s in args.seeds)
    print(f"{'variant':<20} {seeds} {'mean':>9} {'vs cross-patch':>15}")
    reference = means.get("cross-patch")
    for variant in args.variants:
        row = [r["heldOutBitsPerByte"] for r in results if r["variant"] == variant]
        delta = "" if reference is None else f"{means[variant] - reference:+.4f}"
        print(f"{variant:<20} " + " ".join(f"{x:9.4f}" for x in row) + f" {means[variant]:9.4f} {delta:>15}")
    if args.json:
        summary = {"data": os.path.abspath(args.data), "steps": args.steps, "batch": args.batch, "lr": args.lr,
                   "warmup": args.warmup, "crossPatch": args.cross_patch, "evalWindows": args.eval_windows,
                   "validation": args.validation, "threads": args.threads, "seeds": args.seeds,
                   "meanHeldOutBitsPerByte": means, "runs": results}
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(summary, file, indent=2)
            file.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
