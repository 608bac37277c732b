"""Training at scale on our files: `megabyte train`'s recipe under torchrun, with our run directories.

  torchrun --nproc_per_node 8 -m megabyte_torch.train --data DIR --config CONFIG.json --run runs/big \\
      --batch 256 --accumulation 2 --steps 20000 --precision bf16

One process per device (DistributedDataParallel; --fsdp shards parameters for models that do not
fit one device), gloo on CPU and NCCL on GPUs. The recipe is @megabyte/trainer's: AdamW with decay
on matrices only, linear warm-up then cosine/linear/constant, global-norm clipping, gradient
accumulation, and the same random windows of the same split of the same files. A step's --batch
windows are drawn as one TypeScript run of that batch draws them and shared out among processes
and micro-batches, so the result does not depend on how many processes run it. Checkpoints are
our run directories (checkpoints/step-NNNNNNN with config.json, model.safetensors,
optimizer.safetensors, trainer.json; best/; metrics.jsonl): they load in @megabyte/core, the CLI
and the web demo, and --resume continues exactly.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import sys
import time
from dataclasses import dataclass

import torch
import torch.distributed as dist

from . import safetensors
from .checkpoint import CheckpointError, load_checkpoint, read_config, save_checkpoint
from .config import ConfigError, ModelConfig, parse_config
from .data import Corpus, RandomWindowSampler, read_corpus_directory, split_corpus
from .model import ByteModel, create_model
from .optim import adamw, learning_rate_at

TRAINER_FILE = "trainer.json"
# trainer.json's own format (a model config's is config.CHECKPOINT_FORMAT_VERSION).
TRAINER_FORMAT_VERSION = 1
OPTIMIZER_FILE = "optimizer.safetensors"
METRICS_FILE = "metrics.jsonl"

# @megabyte/trainer's DEFAULT_TRAINING_OPTIONS, under its names (they are written to trainer.json).
DEFAULTS = {
    "steps": 1000, "batchSize": 8, "accumulationSteps": 1, "lr": 2e-3, "schedule": "cosine",
    "warmupSteps": 100, "minLrRatio": 0.1, "beta1": 0.9, "beta2": 0.98, "eps": 1e-8, "weightDecay": 0.1,
    "clip": 1, "evalEvery": 200, "evalWindows": 32, "logEvery": 10, "checkpointEvery": 500, "seed": 0,
    "windowAlignment": 1,
}
FLAGS = {  # command-line flag -> option
    "steps": "steps", "batch": "batchSize", "accumulation": "accumulationSteps", "lr": "lr",
    "schedule": "schedule", "warmup": "warmupSteps", "min_lr_ratio": "minLrRatio", "beta1": "beta1",
    "beta2": "beta2", "eps": "eps", "weight_decay": "weightDecay", "clip": "clip", "eval_every": "evalEvery",
    "eval_windows": "evalWindows", "log_every": "logEvery", "checkpoint_every": "checkpointEvery",
    "seed": "seed", "window_alignment": "windowAlignment",
}


class TrainingDiverged(RuntimeError):
    pass


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m megabyte_torch.train", description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="a model config.json (either form) to train from scratch")
    source.add_argument("--init", help="a checkpoint directory to start from (fine-tuning)")
    source.add_argument("--resume", help="a run directory (its newest checkpoint) or one of its checkpoints")
    parser.add_argument("--data", required=True, help="a file or a directory of files (read recursively)")
    parser.add_argument("--run", help="the run directory to write (default: the resumed one, or runs/<time>)")
    parser.add_argument("--validation", type=float,
                        help="share of documents held out (default 0.1, or the resumed run's)")
    parser.add_argument("--keep-last", type=int, default=3, help="step checkpoints kept")
    parser.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                        help="autocast dtype of the forward pass (weights and optimizer stay float32)")
    parser.add_argument("--fsdp", action="store_true", help="shard parameters (FullyShardedDataParallel; GPUs)")
    parser.add_argument("--device", default="auto", help="auto (cuda when there is one), cpu, cuda")
    parser.add_argument("--threads", type=int, help="CPU threads per process")
    parser.add_argument("--schedule", choices=["cosine", "polynomial", "constant"])
    for flag, option in FLAGS.items():
        if flag == "schedule":
            continue
        kind = float if isinstance(DEFAULTS[option], float) or option in ("clip",) else int
        parser.add_argument(f"--{flag.replace('_', '-')}", type=kind, help=f"{option} (default {DEFAULTS[option]})")
    return parser.parse_args(argv)


@dataclass
class Context:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def start_distributed(device_flag: str) -> Context:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    cuda = torch.cuda.is_available() if device_flag == "auto" else device_flag.startswith("cuda")
    if cuda:
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    else:
        device = torch.device(device_flag if device_flag not in ("auto",) else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo", timeout=datetime.timedelta(minutes=10))
    return Context(rank, world, device)


def check_options(options: dict, world: int) -> None:
    problems = []
    for name in ("steps", "batchSize", "accumulationSteps", "evalWindows", "logEvery", "windowAlignment"):
        if not (isinstance(options[name], int) and options[name] >= 1):
            problems.append(f"{name}: expected an integer >= 1, got {options[name]}")
    shares = world * options["accumulationSteps"]
    if isinstance(options["batchSize"], int) and options["batchSize"] % shares != 0:
        problems.append(f"batch {options['batchSize']} must be a multiple of processes x accumulation "
                        f"({world} x {options['accumulationSteps']} = {shares})")
    if not options["lr"] > 0:
        problems.append(f"lr: expected a number > 0, got {options['lr']}")
    if not options["clip"] >= 0:
        problems.append(f"clip: expected a number >= 0, got {options['clip']}")
    if options["schedule"] not in ("cosine", "polynomial", "constant"):
        problems.append(f"schedule: expected cosine, polynomial or constant, got {options['schedule']}")
    if problems:
        raise SystemExit("invalid training options:\n  - " + "\n  - ".join(problems))


def newest_checkpoint(path: str) -> str:
    if os.path.exists(os.path.join(path, TRAINER_FILE)):
        return path
    directory = os.path.join(path, "checkpoints")
    steps = sorted(n for n in os.listdir(directory) if n.startswith("step-")) if os.path.isdir(directory) else []
    if not steps:
        raise CheckpointError(f"cannot resume from {path}", [f"no checkpoints/step-* directory with a {TRAINER_FILE}"],
                              "Pass a run directory written by megabyte train (TypeScript or PyTorch) or one of its "
                              "checkpoints.")
    return os.path.join(directory, steps[-1])


def read_trainer_file(directory: str) -> dict:
    path = os.path.join(directory, TRAINER_FILE)
    try:
        with open(path, encoding="utf-8") as file:
            trainer = json.load(file)
    except (OSError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot resume from {directory}", [f"{TRAINER_FILE}: {error}"]) from error
    version = trainer.get("formatVersion", TRAINER_FORMAT_VERSION) if isinstance(trainer, dict) else None
    if version != TRAINER_FORMAT_VERSION:
        raise CheckpointError(f"cannot resume from {directory}",
                              [f"{TRAINER_FILE}: formatVersion {version!r}; megabyte_torch reads "
                               f"{TRAINER_FORMAT_VERSION}"], "Upgrade megabyte_torch to resume this run.")
    problems = [f"{TRAINER_FILE}: {field}: expected an integer >= 0, got {trainer.get(field)!r}"
                for field in ("step", "optimizerStep") if not (isinstance(trainer.get(field), int) and trainer[field] >= 0)]
    problems += [f"{TRAINER_FILE}: {field}: expected an object" for field in ("sampler", "options")
                 if not isinstance(trainer.get(field), dict)]
    if problems:
        raise CheckpointError(f"cannot resume from {directory}", problems)
    return trainer


class Run:
    """One training run: model, optimizer, data and schedule, on this process's share of each step."""

    def __init__(self, args: argparse.Namespace, ctx: Context):
        self.ctx, self.args = ctx, args
        resumed = None
        if args.resume:
            checkpoint = newest_checkpoint(args.resume)
            resumed = read_trainer_file(checkpoint)
            model = load_checkpoint(checkpoint)
            options = {**DEFAULTS, **resumed["options"]}
            self.run_dir = args.run or os.path.dirname(os.path.dirname(checkpoint))
            if args.validation is None:
                args.validation = recorded_validation(resumed.get("data"))
        else:
            model = None
            options = dict(DEFAULTS)
            self.run_dir = args.run or os.path.join("runs", time.strftime("%Y-%m-%dT%H-%M-%S"))
        for flag, option in FLAGS.items():
            value = getattr(args, flag)
            if value is not None:
                options[option] = value
        check_options(options, ctx.world)
        if args.precision == "fp16" and ctx.device.type != "cuda":
            raise SystemExit("--precision fp16 needs a GPU (its gradient scaler is CUDA's); on CPU use bf16 or fp32")
        if args.validation is None:
            args.validation = 0.1
        if model is None:
            torch.manual_seed(options["seed"])  # the same initial weights in every process and every run
            model = load_checkpoint(args.init) if args.init else create_model(read_model_config(args.config))
        self.options = options
        self.config: ModelConfig = model.config
        self.model: ByteModel = model.to(ctx.device).train()
        # As `megabyte train` records its data (a JSON DataSpec), so that either can resume the run.
        self.data_name = json.dumps({"source": os.path.abspath(args.data), "validationFraction": args.validation})
        self.train_corpus, self.validation = self.read_data(args)
        self.sampler = RandomWindowSampler(self.train_corpus, self.config.context_length, options["seed"],
                                           options["windowAlignment"])
        self.optimizer = adamw(self.model, options["lr"], options["weightDecay"],
                               (options["beta1"], options["beta2"]), options["eps"])
        self.step = 0
        self.best = None
        if resumed is not None:
            self.restore(checkpoint, resumed)
        self.net = self.wrap(args)
        self.scaler = torch.cuda.amp.GradScaler() if args.precision == "fp16" else None

    def read_data(self, args) -> tuple[Corpus, Corpus | None]:
        documents = [content for _, content in read_corpus_directory(args.data)]
        total = sum(len(d) for d in documents)
        if len(documents) > 1 or total > 1:
            return split_corpus(documents, args.validation, 0)
        return Corpus(documents), None

    def wrap(self, args) -> torch.nn.Module:
        if self.ctx.world == 1 and not args.fsdp:
            return self.model
        if args.fsdp:
            if self.ctx.device.type != "cuda":
                raise SystemExit("--fsdp needs GPUs (FullyShardedDataParallel); on CPU use DDP (the default)")
            try:
                from torch.distributed.fsdp import FullyShardedDataParallel
            except Exception as error:  # Debian's torch 1.13 fails to import it on Python 3.11
                raise SystemExit(f"--fsdp: torch {torch.__version__} cannot load FullyShardedDataParallel here "
                                 f"({error}); use DDP (the default) or a newer torch") from error
            # The optimizer must see the sharded parameters: rebuild it after wrapping.
            wrapped = FullyShardedDataParallel(self.model, use_orig_params=True)
            state = self.optimizer.state_dict()
            self.optimizer = adamw(wrapped, self.options["lr"], self.options["weightDecay"],
                                   (self.options["beta1"], self.options["beta2"]), self.options["eps"])
            if state["state"]:
                raise SystemExit("--fsdp with --resume is not supported yet: resume without --fsdp on one device, "
                                 "or start the FSDP run with --init")
            return wrapped
        from torch.nn.parallel import DistributedDataParallel

        return DistributedDataParallel(self.model, device_ids=[self.ctx.device.index] if self.ctx.device.type == "cuda"
                                       else None)

    # --- one optimizer step ------------------------------------------------------------------------
    def train_step(self) -> dict:
        started = time.perf_counter()
        options, ctx = self.options, self.ctx
        accumulation = options["accumulationSteps"]
        windows = self.sampler.next_batch(options["batchSize"])  # the whole step's windows, in TS order
        micro = options["batchSize"] // accumulation
        share = micro // ctx.world
        self.optimizer.zero_grad(set_to_none=True)
        loss_sum = torch.zeros((), device=ctx.device)
        for m in range(accumulation):
            # Micro-batch m is rows [m*micro, (m+1)*micro) as in @megabyte/trainer; this rank takes its share.
            first = m * micro + ctx.rank * share
            ids = torch.from_numpy(windows[first:first + share]).to(ctx.device)
            # Dropout masks depend only on (seed, step, micro-batch, rank): a resumed run draws the same.
            torch.manual_seed(options["seed"] * 1_000_003 + (self.step * accumulation + m) * 4099 + ctx.rank)
            sync = m == accumulation - 1 or not hasattr(self.net, "no_sync")
            with (contextlib.nullcontext() if sync else self.net.no_sync()), self.autocast():
                loss = self.loss(ids) / accumulation
            (self.scaler.scale(loss) if self.scaler else loss).backward()
            loss_sum += loss.detach()
        if ctx.world > 1:
            dist.all_reduce(loss_sum)
            loss_sum /= ctx.world
        if self.scaler:
            self.scaler.unscale_(self.optimizer)
        norm = self.clip()
        loss_value, norm_value = loss_sum.item(), float(norm)
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)) and not self.scaler:
            raise TrainingDiverged(
                f"training diverged at step {self.step + 1}: loss {loss_value}, gradient norm {norm_value}. The last "
                "good checkpoint is kept; resume from it with a lower learning rate (--lr) or a longer warm-up.")
        lr = learning_rate_at(self.step, options["lr"], options["schedule"], options["warmupSteps"],
                              options["steps"], options["minLrRatio"])
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        if self.scaler:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.step += 1
        seconds = time.perf_counter() - started
        return {"step": self.step, "loss": loss_value, "bitsPerByte": loss_value / math.log(2), "lr": lr,
                "gradNorm": norm_value, "bytesPerSecond": options["batchSize"] * self.config.context_length / seconds,
                "seconds": seconds}

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        """Mean nats over the windows' ids (they hold no padding), through the wrapper (DDP/FSDP)."""
        logits = self.net(ids)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), ids.reshape(-1))

    def autocast(self):
        if self.args.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.args.precision == "bf16" else torch.float16
        return torch.autocast(device_type=self.ctx.device.type, dtype=dtype)

    def clip(self) -> torch.Tensor:
        clip = self.options["clip"]
        parameters = [p for p in self.net.parameters() if p.grad is not None]
        if hasattr(self.net, "clip_grad_norm_"):  # FSDP: the norm over every shard
            return self.net.clip_grad_norm_(clip if clip > 0 else float("inf"))
        return torch.nn.utils.clip_grad_norm_(parameters, clip if clip > 0 else float("inf"))

    # --- evaluation --------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self) -> float | None:
        if self.validation is None:
            return None
        context = self.config.context_length
        ids = self.validation.read_ids(0, min(self.validation.length, context * self.options["evalWindows"]))
        self.net.eval()
        total = 0.0
        try:
            for start in range(0, len(ids), context * self.options["batchSize"]):
                chunk = ids[start:start + context * self.options["batchSize"]]
                rows = [chunk[i:i + context] for i in range(0, len(chunk), context)]
                for row in rows:  # windows of unequal length (the last) are scored on their own
                    x = torch.from_numpy(row[None]).to(self.ctx.device)
                    with self.autocast():
                        logits = self.net(x)
                    total += torch.nn.functional.cross_entropy(logits[0].float(), x[0], reduction="sum").item()
        finally:
            self.net.train()
        return total / len(ids) / math.log(2)

    # --- checkpoints -------------------------------------------------------------------------------
    def full_state(self) -> dict[str, torch.Tensor]:
        if hasattr(self.net, "clip_grad_norm_"):  # FSDP: gather the full weights on every rank
            from torch.distributed.fsdp import FullStateDictConfig, StateDictType

            with type(self.net).state_dict_type(self.net, StateDictType.FULL_STATE_DICT,
                                                FullStateDictConfig(offload_to_cpu=True, rank0_only=False)):
                return {name.replace("_fsdp_wrapped_module.", ""): t for name, t in self.net.state_dict().items()}
        return self.model.state_dict()

    def save(self, reason: str) -> None:
        weights = self.full_state()
        if not self.ctx.main:
            return
        names = {id(p): n for n, p in self.model.named_parameters()}
        moments = {}
        step = 0
        for param, state in self.optimizer.state.items():
            step = int(state["step"])
            if self.args.fsdp:  # sharded moments are not gathered: such a checkpoint cannot be resumed
                continue
            name = names[id(param)]
            moments[f"optimizer.m.{name}"] = state["exp_avg"].detach().float().cpu()
            moments[f"optimizer.v.{name}"] = state["exp_avg_sq"].detach().float().cpu()
        trainer = {
            "step": self.step, "sampler": self.sampler.state(), "optimizerStep": step,
            "bestValidationBitsPerByte": self.best, "options": self.options, "reason": reason,
            "savedAt": datetime.datetime.now(datetime.timezone.utc).isoformat(), "data": self.data_name,
            "engine": f"megabyte_torch (torch {torch.__version__})",
        }
        target = os.path.join(self.run_dir, "best") if reason == "best" else \
            os.path.join(self.run_dir, "checkpoints", f"step-{self.step:07d}")
        snapshot = create_model(self.config)
        snapshot.load_state_dict({n: t.detach().float().cpu() for n, t in weights.items()})
        save_checkpoint(snapshot, target, extra_files={
            OPTIMIZER_FILE: safetensors.encode(moments),
            TRAINER_FILE: json.dumps(trainer, indent=2) + "\n",
        })
        if reason != "best":
            self.prune()

    def prune(self) -> None:
        directory = os.path.join(self.run_dir, "checkpoints")
        steps = sorted(n for n in os.listdir(directory) if n.startswith("step-"))
        import shutil

        for old in steps[:max(0, len(steps) - self.args.keep_last)]:
            shutil.rmtree(os.path.join(directory, old), ignore_errors=True)

    def restore(self, checkpoint: str, trainer: dict) -> None:
        with open(os.path.join(checkpoint, OPTIMIZER_FILE), "rb") as file:
            tensors, _ = safetensors.decode(file.read(), os.path.join(checkpoint, OPTIMIZER_FILE))
        problems = []
        for name, param in self.model.named_parameters():
            m, v = tensors.pop(f"optimizer.m.{name}", None), tensors.pop(f"optimizer.v.{name}", None)
            if m is None or v is None or m.shape != param.shape or v.shape != param.shape:
                if trainer["optimizerStep"] > 0:
                    problems.append(f"optimizer moments of {name} are missing or of the wrong shape")
                continue
            self.optimizer.state[param] = {"step": torch.tensor(float(trainer["optimizerStep"])),
                                           "exp_avg": m.to(param.device), "exp_avg_sq": v.to(param.device)}
        problems += [f"unexpected optimizer entry {name}" for name in tensors]
        if problems:
            raise CheckpointError(f"cannot resume from {checkpoint}: {OPTIMIZER_FILE} does not fit the model", problems)
        self.sampler.restore(trainer["sampler"])
        self.step = trainer["step"]
        self.best = trainer.get("bestValidationBitsPerByte")

    def record(self, line: dict) -> None:
        if self.ctx.main:
            os.makedirs(self.run_dir, exist_ok=True)
            with open(os.path.join(self.run_dir, METRICS_FILE), "a", encoding="utf-8") as file:
                file.write(json.dumps({**line, "time": int(time.time() * 1000)}) + "\n")

    # --- the loop ----------------------------------------------------------------------------------
    def run(self) -> None:
        options = self.options
        steps = options["steps"]
        while self.step < steps:
            metrics = self.train_step()
            if self.step % options["logEvery"] == 0 or self.step == steps:
                self.record({"type": "step", **metrics, "bpb": metrics["bitsPerByte"]})
                if self.ctx.main:
                    print(f"step {self.step}/{steps}  loss {metrics['loss']:.4f}  bpb {metrics['bitsPerByte']:.3f}  "
                          f"lr {metrics['lr']:.2e}  |g| {metrics['gradNorm']:.3f}  "
                          f"{metrics['bytesPerSecond'] * self.ctx.world:.0f} bytes/s", flush=True)
            last = self.step == steps
            if (options["evalEvery"] > 0 and self.step % options["evalEvery"] == 0) or last:
                bits = self.validate()  # on every rank: saving a sharded (FSDP) model takes all of them
                if bits is not None:
                    best = self.best is None or bits < self.best
                    if best:
                        self.best = bits
                    self.record({"type": "eval", "step": self.step, "bitsPerByte": bits, "best": best, "bpb": bits})
                    print(f"eval step {self.step}: {bits:.4f} bits per byte{' (best)' if best else ''}", flush=True)
                    if best:
                        self.save("best")
            if last:
                self.save("final")
            elif options["checkpointEvery"] > 0 and self.step % options["checkpointEvery"] == 0:
                self.save("interval")


def recorded_validation(data: object) -> float | None:
    """The validation share a run recorded in trainer.json's `data` (a JSON DataSpec), if any."""
    try:
        spec = json.loads(data) if isinstance(data, str) else None
    except json.JSONDecodeError:
        return None
    share = spec.get("validationFraction") if isinstance(spec, dict) else None
    return share if isinstance(share, (int, float)) and 0 < share < 1 else None


def read_model_config(path: str) -> ModelConfig:
    if os.path.isdir(path):
        return read_config(path)
    try:
        with open(path, encoding="utf-8-sig") as file:
            return parse_config(json.load(file))
    except (OSError, json.JSONDecodeError) as error:
        raise SystemExit(f"--config {path}: {error}") from error


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    ctx = start_distributed(args.device)
    try:
        Run(args, ctx).run()
    except (CheckpointError, ConfigError, TrainingDiverged, ValueError) as error:
        print(f"megabyte_torch.train: {error}", file=sys.stderr)
        return 1
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
