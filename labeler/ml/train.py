"""Training the GAN: one plain function with progress and stop callbacks (stylegan2-ada idiom).

A run lives in its own numbered folder under ``run_dir`` (``00001-gan-r32-c10``) holding
``options.json``, ``stats.jsonl`` (one JSON line per log interval), sample grids
(``samples-000500.png``: one row per class) and ``checkpoint.pt`` + ``checkpoint.json``.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from labeler.core.errors import LabelerError
from labeler.core.files import sha256_file
from labeler.core.progress import ShouldStop, StatsFn
from labeler.ml.checkpoint import (
    FORMAT_VERSION,
    GAN_FORMAT,
    load_payload,
    load_state,
    save_payload,
)
from labeler.ml.data import RealSampler, check_labels, dataset_length
from labeler.ml.device import autocast, choose_batch, memory_format, resolve_device, scale_lr
from labeler.ml.diffaug import DEFAULT_POLICY, diff_augment
from labeler.ml.gan import Discriminator, GanConfig, Generator, build

DEFAULT_STEPS = 2000
DEFAULT_LR = 2e-4  # Adam, for G and D, at a batch of 64; scaled with the batch (ADR 0105)
COMPILE_MODES = ("off", "on", "auto")
RUN_NAME = re.compile(r"^(\d{5})-gan-")


@dataclass
class RunResult:
    """What a training call did; ``to_json()`` is what ``labeler gan train --json`` prints."""

    run_dir: Path
    checkpoint: Path
    checkpoint_sha256: str
    step: int
    steps_this_run: int
    images_per_s: float
    device: str
    stopped: bool
    resumed: bool
    losses: dict[str, float]
    sample_grid: Path | None
    warnings: list[str] = field(default_factory=list)
    batch_size: int = 0
    lr_g: float = 0.0
    lr_d: float = 0.0
    compiled: bool = False

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("run_dir", "checkpoint", "sample_grid"):
            out[key] = None if out[key] is None else str(out[key])
        return out


@dataclass
class _Nets:
    G: Generator
    D: Discriminator
    G_ema: Generator
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    lecam: torch.Tensor  # [EMA of D(real), EMA of D(fake)]


def train_gan(
    images: Any,
    labels: Any,
    num_classes: int,
    run_dir: str | Path,
    resolution: int = 32,
    steps: int | None = None,
    minutes: float | None = None,
    device: str = "auto",
    batch_size: int | None = None,
    seed: int = 0,
    progress: StatsFn | None = None,
    should_stop: ShouldStop | None = None,
    resume: bool = True,
    *,
    width: str = "base",
    class_names: list[str] | None = None,
    sampling: str = "balanced",
    d_steps: int = 2,
    lr_g: float | None = None,
    lr_d: float | None = None,
    lecam_weight: float = 0.1,
    ema_beta: float = 0.999,
    augment: tuple[str, ...] = DEFAULT_POLICY,
    log_every: int = 50,
    snapshot_every: int = 500,
    trusted: Callable[[Path, str], bool] | None = None,
    on_saved: Callable[[Path, str], None] | None = None,
    compile: str = "off",
) -> RunResult:
    """Train (or continue training) the class-conditional GAN on real train-split images.

    ``images`` is a uint8 array (N, H, W, 3) RGB or a ``Dataset`` of such images; ``labels`` the
    N class ids. ``steps`` counts generator updates *for this call* (each after ``d_steps``
    discriminator updates); ``minutes`` bounds the wall time instead; with neither, 2000 steps.
    With ``resume`` the latest compatible run in ``run_dir`` continues (step counter, optimiser
    states, EMA, random state) and its ``stats.jsonl`` grows; otherwise a new numbered folder is
    made. ``progress`` gets ``{step, images_per_s, losses, eta_s, device}`` after every step
    (losses refresh every ``log_every`` steps, to avoid syncing the GPU each step). When
    ``should_stop()`` turns true the run saves a checkpoint and returns with ``stopped=True``.
    ``trusted(path, sha256)`` says whether a checkpoint found for resuming is one the caller
    recorded (a file changed since is refused, not resumed); ``on_saved(path, sha256)`` is
    called after every checkpoint written, so the caller can record it.

    ``batch_size=None`` chooses it from the device (``device.choose_batch``: 32 on the CPU, 512
    at 32 px on a large GPU); ``lr_g``/``lr_d`` left ``None`` are 2e-4 scaled with the batch
    (``device.scale_lr``: √(batch/64), between 1× and 2×); given, they are used as they are.
    ``compile`` is ``"off"``, ``"on"`` or ``"auto"`` (on with CUDA): ``torch.compile`` of G and D;
    when compiling fails the run goes on uncompiled and says so in ``warnings``.

    >>> result = train_gan(images, labels, 10, "runs", steps=5000)  # doctest: +SKIP
    """
    cfg = GanConfig(num_classes, resolution, width, class_names=tuple(class_names or ()))
    n = dataset_length(images)
    labels = check_labels(labels, n, num_classes)
    if steps is not None and steps < 0 or minutes is not None and minutes <= 0:
        raise LabelerError("steps must be ≥ 0 and minutes > 0")
    if batch_size is not None and batch_size < 1 or d_steps < 1:
        raise LabelerError("batch_size and d_steps must be positive")
    if compile not in COMPILE_MODES:
        raise LabelerError(f"compile must be one of {', '.join(COMPILE_MODES)}, got {compile!r}")
    if steps is None and minutes is None:
        steps = DEFAULT_STEPS
    dev, warning = resolve_device(device)
    if batch_size is None:
        batch_size = choose_batch(dev, resolution, width)
    lr_g = scale_lr(DEFAULT_LR, batch_size) if lr_g is None else lr_g
    lr_d = scale_lr(DEFAULT_LR, batch_size) if lr_d is None else lr_d
    options = {
        "config": json.loads(cfg.to_json()),
        "num_images": n,
        "batch_size": batch_size,
        "seed": seed,
        "sampling": sampling,
        "d_steps": d_steps,
        "lr_g": lr_g,
        "lr_d": lr_d,
        "lecam_weight": lecam_weight,
        "ema_beta": ema_beta,
        "augment": list(augment),
        "loss": "hinge",
        "lr_rule": "sqrt(batch/64) x 2e-4, between 1x and 2x (ADR 0105)",
        "compile": compile,
        "counts": np.bincount(labels, minlength=num_classes).tolist(),
    }
    folder = _find_resumable(Path(run_dir), cfg) if resume else None
    resumed = folder is not None
    if folder is None:
        folder = _new_run_folder(Path(run_dir), cfg, options)

    torch.manual_seed(seed)  # weight init only; every later draw uses the generators below
    cpu_gen = torch.Generator().manual_seed(seed)
    dev_gen = torch.Generator(device=dev).manual_seed(seed + 1)
    nets = _make_nets(cfg, dev, lr_g, lr_d)
    step = 0
    if resumed:
        ckpt = folder / "checkpoint.pt"
        if trusted is not None and not trusted(ckpt, sha256_file(ckpt)):
            raise LabelerError(
                f"{folder.name}/checkpoint.pt is not the checkpoint this project recorded (its"
                " SHA-256 differs): it was changed on disk, so it is not resumed; move the run"
                " folder away to start a new run"
            )
        step = _restore(ckpt, cfg, nets, cpu_gen, dev_gen)
        # The optimiser states came back with the old run's rates; this call's batch decides.
        for opt, lr in ((nets.opt_g, lr_g), (nets.opt_d, lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
    # An array is drawn from on the device (no host round trip per step); a Dataset is read on
    # the host, so its indices come from the CPU generator.
    draw_gen = cpu_gen if isinstance(images, torch.utils.data.Dataset) else dev_gen
    sampler = RealSampler(images, labels, num_classes, resolution, dev, sampling, draw_gen)
    fixed_z, fixed_y = _grid_latents(cfg, seed)

    loop = _Loop(
        cfg, nets, sampler, dev, dev_gen, batch_size, d_steps, lecam_weight, ema_beta, augment
    )
    warnings = [warning] if warning else []
    if compile == "on" or compile == "auto" and dev.type == "cuda":
        compile_warning = loop.compile()
        if compile_warning:
            warnings.append(compile_warning)
    stats_path = folder / "stats.jsonl"
    start, last_log_t, last_log_step = time.monotonic(), time.monotonic(), step
    first_step, losses, rate, stopped, grid = step, {}, 0.0, False, None
    deadline = start + minutes * 60 if minutes is not None else math.inf
    target = step + steps if steps is not None else math.inf
    while step < target and time.monotonic() < deadline:
        if should_stop is not None and should_stop():
            stopped = True
            break
        if (fallback := loop.step(step)) is not None:
            warnings.append(fallback)
        step += 1
        now = time.monotonic()
        rate = (step - first_step) * batch_size * d_steps / max(now - start, 1e-9)
        if step % log_every == 0 or step == target:
            losses = loop.pop_losses()
            _append_stats(
                stats_path,
                {
                    "step": step,
                    "time_s": round(now - start, 3),
                    "device": str(dev),
                    "images_per_s": round(
                        (step - last_log_step) * batch_size * d_steps / max(now - last_log_t, 1e-9),
                        2,
                    ),
                    **{f"loss_{k}": v for k, v in losses.items()},
                },
            )
            last_log_t, last_log_step = now, step
        if step % snapshot_every == 0:
            grid = _save_grid(nets.G_ema, fixed_z, fixed_y, cfg, folder / f"samples-{step:06d}.png")
            saved = _save(folder, cfg, nets, step, cpu_gen, dev_gen)
            if on_saved is not None:
                on_saved(folder / "checkpoint.pt", saved)
        if progress is not None:
            eta = _eta(step, target, deadline, now, rate, batch_size * d_steps)
            progress(
                {
                    "step": step,
                    "images_per_s": rate,
                    "losses": losses,
                    "eta_s": eta,
                    "device": str(dev),
                }
            )
    if not losses or loop.pending:
        losses = loop.pop_losses() or losses
    grid = _save_grid(nets.G_ema, fixed_z, fixed_y, cfg, folder / f"samples-{step:06d}.png")
    digest = _save(folder, cfg, nets, step, cpu_gen, dev_gen)
    if on_saved is not None:
        on_saved(folder / "checkpoint.pt", digest)
    return RunResult(
        folder,
        folder / "checkpoint.pt",
        digest,
        step,
        step - first_step,
        rate,
        str(dev),
        stopped,
        resumed,
        losses,
        grid,
        warnings,
        batch_size,
        lr_g,
        lr_d,
        loop.compiled,
    )


_compiler: Callable[[torch.nn.Module], Any] = torch.compile  # swapped by tests


class _Loop:
    """One GAN step: ``d_steps`` hinge updates of D with LeCam, then one of G, then the EMA.

    Nothing in a step waits for the GPU: batches, latents and augmentations are drawn on the
    device, losses are summed there and read only by ``pop_losses`` (at log intervals). D sees
    real and fake in one call (one launch per layer, not two), and the EMA is one fused update.
    """

    def __init__(
        self, cfg, nets, sampler, dev, gen, batch_size, d_steps, lecam_weight, ema_beta, policy
    ) -> None:
        self.cfg, self.nets, self.sampler, self.dev, self.gen = cfg, nets, sampler, dev, gen
        self.batch, self.d_steps, self.lecam_weight = batch_size, d_steps, lecam_weight
        self.ema_beta, self.policy = ema_beta, tuple(policy)
        self.mf = memory_format(dev)
        self.sums = torch.zeros(4, device=dev)  # d, g, lecam, count: synced only when logged
        self.pending = 0
        self.G_run: Any = nets.G  # what the step calls: the modules, or their compiled forms
        self.D_run: Any = nets.D
        self.compiled, self._verified = False, True
        self._ema = _EmaPairs(nets.G_ema, nets.G)

    def compile(self) -> str | None:
        """Use ``torch.compile``d G and D from the next step; ``None``, or why not."""
        try:
            self.G_run, self.D_run = _compiler(self.nets.G), _compiler(self.nets.D)
        except Exception as exc:  # noqa: BLE001 - any failure means: train uncompiled
            self.G_run, self.D_run = self.nets.G, self.nets.D
            return f"torch.compile unavailable ({type(exc).__name__}: {exc}); trained uncompiled"
        self.compiled, self._verified = True, False
        return None

    def _z(self) -> torch.Tensor:
        return torch.randn(self.batch, self.cfg.z_dim, device=self.dev, generator=self.gen)

    def _aug(self, x: torch.Tensor) -> torch.Tensor:
        return diff_augment(x, self.policy, self.gen).contiguous(memory_format=self.mf)

    def step(self, step: int) -> str | None:
        """One step; the first compiled one falls back to the plain modules when compiling
        fails (everything it changed is put back first). Returns that fallback's warning."""
        if self._verified:
            self._step(step)
            return None
        snapshot = self._snapshot()
        try:
            self._step(step)
        except Exception as exc:  # noqa: BLE001 - compile errors surface at the first call
            self._restore(snapshot)
            self.G_run, self.D_run, self.compiled = self.nets.G, self.nets.D, False
            self._verified = True
            self._step(step)
            return f"torch.compile failed ({type(exc).__name__}); trained uncompiled"
        self._verified = True
        return None

    def _step(self, step: int) -> None:
        G, D, lecam, b = self.G_run, self.nets.D, self.nets.lecam, self.batch
        for _ in range(self.d_steps):
            real, y = self.sampler.next(b)
            with torch.no_grad(), autocast(self.dev):
                fake = G(self._z(), y)
            with autocast(self.dev):
                out = self.D_run(self._aug(torch.cat([real, fake.float()])), torch.cat([y, y]))
            out = out.float()
            d_real, d_fake = out[:b], out[b:]
            loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
            # LeCam: pull D's outputs towards the running mean of the other side's outputs,
            # which keeps D from growing confident on a small real set.
            reg = F.relu(d_real - lecam[1]).pow(2).mean() + F.relu(lecam[0] - d_fake).pow(2).mean()
            with torch.no_grad():
                lecam.mul_(0.99).add_(0.01 * torch.stack([d_real.mean(), d_fake.mean()]))
            self.nets.opt_d.zero_grad(set_to_none=True)
            (loss_d + self.lecam_weight * reg).backward()
            self.nets.opt_d.step()
        y = self.sampler.sample_labels(b)
        D.requires_grad_(False)  # G's update needs gradients through D, not for D's weights
        with autocast(self.dev):
            loss_g = -self.D_run(self._aug(G(self._z(), y).float()), y).float().mean()
        self.nets.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.nets.opt_g.step()
        D.requires_grad_(True)
        self._ema.update(min(self.ema_beta, (1 + step) / (10 + step)))
        self.sums += torch.stack(
            [loss_d.detach(), loss_g.detach(), reg.detach(), torch.ones((), device=self.dev)]
        )
        self.pending += 1

    def _snapshot(self) -> dict[str, Any]:
        n = self.nets
        return {
            "G": copy.deepcopy(n.G.state_dict()),
            "D": copy.deepcopy(n.D.state_dict()),
            "G_ema": copy.deepcopy(n.G_ema.state_dict()),
            "opt_g": copy.deepcopy(n.opt_g.state_dict()),
            "opt_d": copy.deepcopy(n.opt_d.state_dict()),
            "lecam": n.lecam.clone(),
            "gen": self.gen.get_state(),
            "sampler_gen": self.sampler.generator.get_state(),
            "sums": self.sums.clone(),
            "pending": self.pending,
        }

    def _restore(self, snap: dict[str, Any]) -> None:
        n = self.nets
        n.G.load_state_dict(snap["G"])
        n.D.load_state_dict(snap["D"])
        n.G_ema.load_state_dict(snap["G_ema"])
        n.opt_g.load_state_dict(snap["opt_g"])
        n.opt_d.load_state_dict(snap["opt_d"])
        n.lecam.copy_(snap["lecam"])
        self.sampler.generator.set_state(snap["sampler_gen"])
        self.gen.set_state(snap["gen"])
        self.sums.copy_(snap["sums"])
        self.pending = snap["pending"]
        n.D.requires_grad_(True)

    def pop_losses(self) -> dict[str, float]:
        if not self.pending:
            return {}
        d, g, r, c = self.sums.tolist()
        self.sums.zero_()
        self.pending = 0
        return {"d": round(d / c, 5), "g": round(g / c, 5), "lecam": round(r / c, 5)}


class _EmaPairs:
    """The EMA of G as one fused update per step (``torch._foreach_lerp_``), not one per tensor.

    BatchNorm running statistics are averaged too, so the EMA weights meet matching stats;
    integer buffers (batches seen) are copied.
    """

    def __init__(self, ema: torch.nn.Module, model: torch.nn.Module) -> None:
        pairs = list(zip(ema.parameters(), model.parameters(), strict=True))
        pairs += [
            (a, b)
            for a, b in zip(ema.buffers(), model.buffers(), strict=True)
            if a.dtype.is_floating_point
        ]
        self.ema = [a for a, _ in pairs]
        self.model = [b for _, b in pairs]
        self.ints = [
            (a, b)
            for a, b in zip(ema.buffers(), model.buffers(), strict=True)
            if not a.dtype.is_floating_point
        ]

    @torch.no_grad()
    def update(self, beta: float) -> None:
        torch._foreach_lerp_(self.ema, self.model, 1 - beta)
        for a, b in self.ints:
            a.copy_(b)


def _make_nets(cfg: GanConfig, dev: torch.device, lr_g: float, lr_d: float) -> _Nets:
    G, D = build(cfg)
    mf = memory_format(dev)
    G, D = G.to(dev, memory_format=mf), D.to(dev, memory_format=mf)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False)
    # betas (0, 0.999): momentum-free Adam is the usual choice for hinge GANs with SN.
    # Not fused: fused Adam needs each gradient's strides to equal its parameter's, which
    # channels_last 1x1 convolutions can break (pytorch#106951); CUDA's default foreach path
    # already updates many tensors per launch.
    opt_g = torch.optim.Adam(G.parameters(), lr=lr_g, betas=(0.0, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), lr=lr_d, betas=(0.0, 0.999))
    return _Nets(G, D, G_ema, opt_g, opt_d, torch.zeros(2, device=dev))


def _save(
    folder: Path,
    cfg: GanConfig,
    nets: _Nets,
    step: int,
    cpu_gen: torch.Generator,
    dev_gen: torch.Generator,
) -> str:
    payload = {
        "format": GAN_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_json(),
        "step": step,
        "generator": _cpu(nets.G.state_dict()),
        "generator_ema": _cpu(nets.G_ema.state_dict()),
        "discriminator": _cpu(nets.D.state_dict()),
        "opt_g": nets.opt_g.state_dict(),
        "opt_d": nets.opt_d.state_dict(),
        "lecam": nets.lecam.detach().cpu(),
        "rng_cpu": cpu_gen.get_state(),
        "rng_device": dev_gen.get_state(),
    }
    sidecar = {
        "format": GAN_FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.loads(cfg.to_json()),
        "step": step,
        "saved_at": time.time(),
    }
    return save_payload(payload, folder / "checkpoint.pt", sidecar)


def _cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _restore(
    path: Path, cfg: GanConfig, nets: _Nets, cpu_gen: torch.Generator, dev_gen: torch.Generator
) -> int:
    payload = load_payload(path, GAN_FORMAT)
    if GanConfig.from_json(payload.get("config")) != cfg:
        raise LabelerError(f"{path} was trained with different settings; start a new run")
    load_state(nets.G, payload.get("generator"), "generator")
    load_state(nets.G_ema, payload.get("generator_ema"), "generator_ema")
    load_state(nets.D, payload.get("discriminator"), "discriminator")
    try:
        nets.opt_g.load_state_dict(payload["opt_g"])
        nets.opt_d.load_state_dict(payload["opt_d"])
        nets.lecam.copy_(payload["lecam"])
        cpu_gen.set_state(payload["rng_cpu"])
        dev_gen.set_state(payload["rng_device"])
    except (KeyError, ValueError, RuntimeError, TypeError) as exc:
        raise LabelerError(f"{path.name}: optimiser or random state unreadable ({exc})") from None
    step = payload.get("step")
    if not isinstance(step, int) or step < 0:
        raise LabelerError(f"{path.name} has no valid step counter")
    return step


def _find_resumable(run_dir: Path, cfg: GanConfig) -> Path | None:
    """The newest run folder whose checkpoint was made with the same network config."""
    if not run_dir.is_dir():
        return None
    for folder in sorted((p for p in run_dir.iterdir() if RUN_NAME.match(p.name)), reverse=True):
        side = folder / "checkpoint.json"
        if not (folder / "checkpoint.pt").is_file() or not side.is_file():
            continue
        try:
            saved = GanConfig.from_json(json.dumps(json.loads(side.read_text())["config"]))
        except (LabelerError, ValueError, KeyError, TypeError):
            continue
        if saved == cfg:
            return folder
    return None


def _new_run_folder(run_dir: Path, cfg: GanConfig, options: dict[str, Any]) -> Path:
    run_dir.mkdir(parents=True, exist_ok=True)
    numbers = [int(m.group(1)) for p in run_dir.iterdir() if (m := RUN_NAME.match(p.name))]
    name = f"{max(numbers, default=0) + 1:05d}-gan-r{cfg.resolution}-c{cfg.num_classes}-{cfg.width}"
    folder = run_dir / name
    folder.mkdir()
    (folder / "options.json").write_text(json.dumps(options, indent=2, sort_keys=True))
    return folder


def _append_stats(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def _eta(
    step: int, target: float, deadline: float, now: float, rate: float, per_step: int
) -> float | None:
    left = []
    if target != math.inf and rate > 0:
        left.append((target - step) * per_step / rate)
    if deadline != math.inf:
        left.append(deadline - now)
    return round(max(0.0, min(left)), 1) if left else None


def _grid_latents(
    cfg: GanConfig, seed: int, per_class: int = 8
) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed + 12345)
    rows = min(cfg.num_classes, 32)
    y = torch.arange(rows).repeat_interleave(per_class)
    return torch.randn(len(y), cfg.z_dim, generator=g), y


@torch.no_grad()
def _save_grid(
    G_ema: Generator, z: torch.Tensor, y: torch.Tensor, cfg: GanConfig, path: Path
) -> Path:
    from torchvision.utils import save_image

    dev = next(G_ema.parameters()).device
    with autocast(dev):
        x = G_ema.eval()(z.to(dev), y.to(dev)).float()
    save_image(
        x, path, nrow=len(y) // min(cfg.num_classes, 32), normalize=True, value_range=(-1, 1)
    )
    return path
