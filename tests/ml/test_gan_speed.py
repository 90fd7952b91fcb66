"""The GPU used well, tested on the CPU: batch and learning rate from the device, real-image
sampling on the device generator, no host synchronisation per step, the torch.compile fallback,
and the throughput probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import labeler.ml.speed as speed
import labeler.ml.train as train_mod
from labeler.core.errors import LabelerError
from labeler.ml.checkpoint import load_payload
from labeler.ml.data import RealSampler
from labeler.ml.device import choose_batch, scale_lr
from labeler.ml.speed import measure_throughput
from labeler.ml.train import train_gan

TINY = {"width": "tiny", "device": "cpu", "log_every": 1000, "snapshot_every": 1000}
GB = 1 << 30


@pytest.fixture(autouse=True)
def _one_thread():
    # After conftest's two threads: on the busy shared CPU two threads of tiny convolutions
    # spin against each other and run several times slower than one.
    torch.set_num_threads(1)


# -- batch size and learning rate ------------------------------------------------------------
def test_batch_follows_the_device_resolution_and_free_memory():
    assert [choose_batch("cpu", r) for r in (32, 64, 128)] == [32, 16, 8]
    big = [choose_batch("cuda", r, "base", free_memory=78 * GB) for r in (32, 64, 128)]
    assert big == [512, 256, 128]
    # A small GPU: the batch halves until it plans to use at most half the free memory.
    small = choose_batch("cuda", 32, "base", free_memory=2 * GB)
    assert small < 512 and small * 6 * (1 << 20) <= GB
    assert choose_batch("cuda", 128, "large", free_memory=4 * GB) < 128
    assert choose_batch("cuda", 32, "tiny", free_memory=2 * GB) == 512  # tiny nets need less


def test_learning_rate_scales_with_the_square_root_of_the_batch_within_1x_to_2x():
    assert scale_lr(2e-4, 8) == scale_lr(2e-4, 64) == 2e-4  # small CPU batches keep the rate
    assert scale_lr(2e-4, 128) == pytest.approx(2e-4 * 2**0.5)
    assert scale_lr(2e-4, 256) == scale_lr(2e-4, 4096) == pytest.approx(4e-4)


def test_train_chooses_batch_and_rates_on_the_cpu_and_records_them(mini, tmp_path):
    images, labels = mini
    result = train_gan(images, labels, 3, tmp_path, steps=1, **TINY)
    assert (result.batch_size, result.lr_g, result.lr_d) == (32, 2e-4, 2e-4)
    options = json.loads((result.run_dir / "options.json").read_text())
    assert (
        options["batch_size"] == 32 and options["lr_d"] == 2e-4 and "ADR 0105" in options["lr_rule"]
    )
    # Rates given are used as given, whatever the batch.
    again = train_gan(
        images, labels, 3, tmp_path / "b", steps=0, batch_size=256, lr_g=1e-4, lr_d=3e-4, **TINY
    )
    assert (again.batch_size, again.lr_g, again.lr_d) == (256, 1e-4, 3e-4)
    scaled = train_gan(images, labels, 3, tmp_path / "c", steps=0, batch_size=256, **TINY)
    assert scaled.lr_g == scaled.lr_d == pytest.approx(4e-4)
    saved = load_payload(scaled.checkpoint, "labeler.gan")
    assert saved["opt_d"]["param_groups"][0]["lr"] == pytest.approx(4e-4)


def test_a_resumed_run_trains_at_the_rates_of_its_new_batch(mini, tmp_path):
    images, labels = mini
    first = train_gan(images, labels, 3, tmp_path, steps=1, batch_size=8, **TINY)
    assert first.lr_g == 2e-4
    again = train_gan(images, labels, 3, tmp_path, steps=0, batch_size=256, **TINY)
    assert again.resumed and again.lr_g == again.lr_d == pytest.approx(4e-4)
    saved = load_payload(again.checkpoint, "labeler.gan")
    for opt in ("opt_g", "opt_d"):
        assert saved[opt]["param_groups"][0]["lr"] == pytest.approx(4e-4)
        assert saved[opt]["state"]  # Adam's moments carried over from the first call


# -- sampling on the device -------------------------------------------------------------------
def _sampler(mini, seed: int, mode: str = "balanced") -> RealSampler:
    images, labels = mini
    gen = torch.Generator(device="cpu").manual_seed(seed)
    return RealSampler(images, labels, 3, 32, torch.device("cpu"), mode, gen)


def test_sampling_is_reproducible_per_seed_and_leaves_the_global_rng_alone(mini):
    a, b, c = _sampler(mini, 1), _sampler(mini, 1), _sampler(mini, 2)
    before = torch.random.get_rng_state()
    xa, ya = a.next(64)
    xb, yb = b.next(64)
    xc, yc = c.next(64)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert not torch.equal(ya, yc) or not torch.equal(xa, xc)
    assert torch.equal(a.sample_labels(50), b.sample_labels(50))
    assert torch.equal(torch.random.get_rng_state(), before)  # only the sampler's generator
    assert xa.shape == (64, 3, 32, 32) and xa.min() >= -1 and xa.max() <= 1


@pytest.mark.parametrize("mode", ["balanced", "sqrt", "uniform"])
def test_sampling_gives_each_class_its_share(mini, mode):
    _, labels = mini
    counts = np.bincount(labels, minlength=3).astype(float)  # 120 / 8 / 6
    want = {"balanced": np.ones(3), "sqrt": np.sqrt(counts), "uniform": counts}[mode]
    want = want / want.sum()
    s = _sampler(mini, 0, mode)
    drawn = torch.cat([s.next(2000)[1] for _ in range(10)]).numpy()
    share = np.bincount(drawn, minlength=3) / len(drawn)
    assert np.abs(share - want).max() < 0.015, (share, want)
    gen_share = np.bincount(s.sample_labels(20000).numpy(), minlength=3) / 20000
    assert np.abs(gen_share - want).max() < 0.015
    # Within a class every image is drawn about equally often: none is left out.
    idx = torch.cat([s.indices(4000) for _ in range(10)]).numpy()
    assert set(np.flatnonzero(labels == 1)) <= set(idx)


def test_a_class_without_images_is_never_drawn(mini):
    images, labels = mini
    gen = torch.Generator().manual_seed(0)
    s = RealSampler(images, labels, 5, 32, torch.device("cpu"), "balanced", gen)  # 3, 4 empty
    assert set(s.sample_labels(5000).tolist()) == {0, 1, 2}
    assert set(s.next(5000)[1].tolist()) <= {0, 1, 2}


# -- no host synchronisation per step -----------------------------------------------------------
SYNCS = ("item", "tolist", "__float__", "__int__", "__bool__", "numpy", "cpu")
PACKAGE = str(Path(train_mod.__file__).resolve().parents[1])


def _count_syncs(monkeypatch) -> list[str]:
    """Patch the Tensor methods that wait for the device; record calls made by labeler code."""
    import sys

    calls: list[str] = []
    for name in SYNCS:
        original = getattr(torch.Tensor, name)

        def wrapper(self, *args, _name=name, _original=original, **kwargs):
            caller = sys._getframe(1).f_code.co_filename
            if caller.startswith(PACKAGE):
                calls.append(f"{_name} in {Path(caller).name}:{sys._getframe(1).f_lineno}")
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapper)
    return calls


def test_training_reads_the_device_only_at_log_intervals(mini, tmp_path, monkeypatch):
    images, labels = mini
    calls = _count_syncs(monkeypatch)
    seen = []
    kw = TINY | {"batch_size": 8, "progress": seen.append}
    train_gan(images, labels, 3, tmp_path / "a", steps=2, **kw)
    short = list(calls)
    calls.clear()
    train_gan(images, labels, 3, tmp_path / "b", steps=6, **kw)
    assert len(seen) == 8  # progress every step, from values already on the host
    assert sorted(calls) == sorted(short), "a read of the device that grows with the steps"
    calls.clear()
    train_gan(images, labels, 3, tmp_path / "c", steps=6, **(kw | {"log_every": 2}))
    extra = [c for c in calls if c not in short or calls.count(c) > short.count(c)]
    assert len(calls) - len(short) == 2 and all(c.startswith("tolist") for c in extra)


# -- torch.compile: opt-in, with a clean fallback ----------------------------------------------
def _weights(result) -> dict[str, torch.Tensor]:
    return load_payload(result.checkpoint, "labeler.gan")["generator"]


def _same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class _Broken:
    def __init__(self, module) -> None:
        self.module = module

    def __call__(self, *args, **kwargs):
        raise RuntimeError("inductor: no C++ compiler")


def test_compile_falls_back_cleanly_and_trains_as_uncompiled(mini, tmp_path, monkeypatch):
    images, labels = mini
    kw = TINY | {"batch_size": 8, "log_every": 2}
    plain = train_gan(images, labels, 3, tmp_path / "plain", steps=4, **kw)
    monkeypatch.setattr(train_mod, "_compiler", _Broken)
    broken = train_gan(images, labels, 3, tmp_path / "broken", steps=4, compile="on", **kw)
    assert not broken.compiled and any("torch.compile failed" in w for w in broken.warnings)
    assert _same(_weights(plain), _weights(broken)) and broken.losses == plain.losses
    # A compiler that works (here: the modules themselves) trains the same steps.
    monkeypatch.setattr(train_mod, "_compiler", lambda m: m)
    ok = train_gan(images, labels, 3, tmp_path / "ok", steps=4, compile="on", **kw)
    assert ok.compiled and not ok.warnings and _same(_weights(plain), _weights(ok))


def test_compile_auto_stays_off_on_the_cpu_and_unknown_modes_are_refused(
    mini, tmp_path, monkeypatch
):
    images, labels = mini
    asked = []
    monkeypatch.setattr(train_mod, "_compiler", lambda m: asked.append(m) or m)
    r = train_gan(images, labels, 3, tmp_path, steps=1, batch_size=8, compile="auto", **TINY)
    assert not r.compiled and asked == []
    with pytest.raises(LabelerError, match="compile must be one of"):
        train_gan(images, labels, 3, tmp_path, steps=1, compile="max", **TINY)


def test_compile_that_fails_at_once_is_a_warning_not_an_error(mini, tmp_path, monkeypatch):
    images, labels = mini

    def refuse(_module):
        raise RuntimeError("dynamo not supported on this Python")

    monkeypatch.setattr(train_mod, "_compiler", refuse)
    r = train_gan(images, labels, 3, tmp_path, steps=2, batch_size=8, compile="on", **TINY)
    assert r.step == 2 and not r.compiled
    assert any("torch.compile unavailable" in w for w in r.warnings)


# -- the throughput probe ---------------------------------------------------------------------
def test_throughput_reports_chosen_and_largest_batch_in_one_run(mini):
    images, labels = mini
    r = measure_throughput(
        images, labels, 3, width="tiny", device="cpu", batch_size=4, cap=16, steps=1, warmup=0
    )
    assert [t["batch"] for t in r["tried"]] == [4, 8, 16] and r["limit"] == "cap"
    assert (r["chosen_batch"], r["largest_batch"]) == (4, 16)
    assert r["chosen_images_per_s"] > 0 and r["largest_images_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["chosen_images_per_s"] / r["largest_images_per_s"], 1e-2)
    assert r["best_batch"] in (4, 8, 16)
    json.dumps(r)  # JSON-ready for the benchmark summary


def test_throughput_stops_at_the_first_batch_that_does_not_fit(mini, monkeypatch):
    images, labels = mini
    real_rate = speed._rate

    def rate(cfg, sampler, dev, gen, batch, *args):
        if batch >= 16:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return real_rate(cfg, sampler, dev, gen, batch, *args)

    monkeypatch.setattr(speed, "_rate", rate)
    r = measure_throughput(
        images, labels, 3, width="tiny", device="cpu", batch_size=4, cap=4096, steps=1, warmup=0
    )
    assert r["limit"] == "out of memory" and r["largest_batch"] == 8
    assert r["tried"][-1] == {"batch": 16, "fits": False}

    # Past the chosen batch, a library error (cuDNN's workspace, say) ends the doubling too;
    # at the chosen batch it is an error of the run.
    def broken(cfg, sampler, dev, gen, batch, *args):
        if batch >= 8:
            raise RuntimeError("cuDNN error: CUDNN_STATUS_ALLOC_FAILED")
        return real_rate(cfg, sampler, dev, gen, batch, *args)

    monkeypatch.setattr(speed, "_rate", broken)
    r = measure_throughput(
        images, labels, 3, width="tiny", device="cpu", batch_size=4, steps=1, warmup=0
    )
    assert r["limit"] == "error" and r["largest_batch"] == 4 and "cuDNN" in r["tried"][-1]["error"]
    with pytest.raises(RuntimeError, match="cuDNN"):
        measure_throughput(images, labels, 3, width="tiny", device="cpu", batch_size=8, steps=1)
    monkeypatch.setattr(speed, "_rate", real_rate)
    timed = measure_throughput(
        images, labels, 3, width="tiny", device="cpu", batch_size=4, steps=1, max_seconds=0
    )
    assert timed["limit"] == "time" and len(timed["tried"]) == 1


@pytest.mark.gpu
def test_no_gan_step_synchronises_with_the_host_on_cuda(mini):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    from labeler.ml.diffaug import DEFAULT_POLICY
    from labeler.ml.gan import GanConfig

    images, labels = mini
    dev = torch.device("cuda")
    cfg = GanConfig(3, 32, "small")
    gen = torch.Generator(device=dev).manual_seed(0)
    sampler = RealSampler(images, labels, 3, 32, dev, "balanced", gen)
    nets = train_mod._make_nets(cfg, dev, 2e-4, 2e-4)
    loop = train_mod._Loop(cfg, nets, sampler, dev, gen, 64, 2, 0.1, 0.999, DEFAULT_POLICY)
    loop.step(0)  # first step: allocations and cuDNN's choices may synchronise
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for i in range(1, 4):
            loop.step(i)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert set(loop.pop_losses()) == {"d", "g", "lecam"}
