"""Training runs, checkpoints, resumes and refuses tampered checkpoints."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from labeler.core.errors import LabelerError
from labeler.ml.checkpoint import load_generator
from labeler.ml.suggest import generate
from labeler.ml.train import train_gan

TINY = {"width": "tiny", "batch_size": 8, "device": "cpu", "log_every": 2}


def _stats(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "stats.jsonl").read_text().splitlines()]


def test_trains_checkpoints_and_resumes(mini, tmp_path):
    images, labels = mini
    seen = []
    first = train_gan(images, labels, 3, tmp_path, steps=4, progress=seen.append, **TINY)
    assert first.step == 4 and not first.resumed and first.device == "cpu"
    assert first.run_dir.name.startswith("00001-gan-r32-c3")
    options = json.loads((first.run_dir / "options.json").read_text())
    assert options["config"]["num_classes"] == 3 and options["counts"] == [120, 8, 6]
    assert [s["step"] for s in _stats(first.run_dir)] == [2, 4]
    assert seen[-1]["step"] == 4 and {"images_per_s", "losses", "eta_s"} <= set(seen[-1])
    assert first.sample_grid.is_file() and first.sample_grid.stat().st_size > 0
    json.dumps(first.to_json())

    second = train_gan(images, labels, 3, tmp_path, steps=2, **TINY)
    assert second.resumed and second.run_dir == first.run_dir
    assert second.step == 6 and second.steps_this_run == 2
    assert [s["step"] for s in _stats(second.run_dir)] == [2, 4, 6]
    side = json.loads((second.run_dir / "checkpoint.json").read_text())
    assert side["step"] == 6 and side["sha256"] == second.checkpoint_sha256

    fresh = train_gan(images, labels, 3, tmp_path, steps=1, resume=False, **TINY)
    assert fresh.run_dir.name.startswith("00002-") and fresh.step == 1


def test_should_stop_saves_a_checkpoint_that_resumes(mini, tmp_path):
    images, labels = mini
    calls = iter([False, False, True])
    stopped = train_gan(
        images, labels, 3, tmp_path, steps=50, should_stop=lambda: next(calls), **TINY
    )
    assert stopped.stopped and stopped.step == 2
    _, _, step = load_generator(stopped.checkpoint)
    assert step == 2
    again = train_gan(images, labels, 3, tmp_path, steps=1, **TINY)
    assert again.resumed and again.step == 3


def test_auto_device_says_when_it_falls_back_to_cpu(mini, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    images, labels = mini
    with pytest.warns(UserWarning, match="CPU"):
        result = train_gan(images, labels, 3, tmp_path, steps=1, width="tiny", batch_size=4)
    assert result.device == "cpu" and "CPU" in result.warnings[0]


def test_accepts_a_dataset_and_bad_labels_are_refused(mini, tmp_path):
    images, labels = mini

    class Items(torch.utils.data.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, i):
            return images[i], int(labels[i])

    result = train_gan(Items(), labels, 3, tmp_path, steps=1, **TINY)
    assert result.step == 1
    with pytest.raises(LabelerError, match="labels"):
        train_gan(images, labels + 5, 3, tmp_path, steps=1, **TINY)


def test_generation_is_reproducible_per_seed(mini, tmp_path):
    images, labels = mini
    run = train_gan(images, labels, 3, tmp_path, steps=1, **TINY)
    a = generate(run.checkpoint, 1, [7, 8, 9], device="cpu")
    b = generate(run.checkpoint, 1, [9], device="cpu")
    assert a.shape == (3, 32, 32, 3) and a.dtype == np.uint8
    # Eval-mode BatchNorm: an image depends on its seed, not on its batch-mates.
    assert np.abs(a[2].astype(int) - b[0].astype(int)).max() <= 1


class _Boom:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _tamper_cases(good: Path, tmp_path: Path, marker: Path) -> dict[str, Path]:
    cases = {}
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(4096))
    cases["garbage"] = garbage
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:2000])
    cases["truncated"] = truncated
    payload = torch.load(good, weights_only=True)
    state = payload["generator_ema"]
    payload["generator_ema"] = {k.replace("fc.", "dense."): v for k, v in state.items()}
    wrong = tmp_path / "wrong_keys.pt"
    torch.save(payload, wrong)
    cases["wrong_keys"] = wrong
    payload = torch.load(good, weights_only=True)
    payload["config"] = '{"num_classes": 3, "resolution": 32, "width": "tiny", "evil": 1}'
    bad_cfg = tmp_path / "bad_config.pt"
    torch.save(payload, bad_cfg)
    cases["bad_config"] = bad_cfg
    # A torch-format zip whose pickle runs code, and a raw pickle doing the same.
    evil_zip = tmp_path / "evil_zip.pt"
    torch.save({"format": "labeler.gan", "format_version": 1, "x": _Boom(str(marker))}, evil_zip)
    cases["evil_zip"] = evil_zip
    evil_raw = tmp_path / "evil_raw.pt"
    evil_raw.write_bytes(pickle.dumps(_Boom(str(marker))))
    cases["evil_raw"] = evil_raw
    return cases


def test_tampered_checkpoints_fail_safely_and_run_no_code(mini, tmp_path):
    images, labels = mini
    run = train_gan(images, labels, 3, tmp_path / "runs", steps=1, **TINY)
    marker = tmp_path / "pwned"
    for name, path in _tamper_cases(run.checkpoint, tmp_path, marker).items():
        assert zipfile.is_zipfile(path) or name in ("garbage", "evil_raw", "truncated")
        with pytest.raises(LabelerError):
            load_generator(path)
        assert not marker.exists(), f"{name}: the pickle ran code"
    # The same pickle does run code when loaded unsafely: the test would catch a regression.
    subprocess.run(
        [
            sys.executable,
            "-c",
            f"import pickle; pickle.load(open({str(tmp_path / 'evil_raw.pt')!r}, 'rb'))",
        ],
        check=True,
    )
    assert marker.exists()


def test_resume_refuses_a_corrupt_checkpoint(mini, tmp_path):
    images, labels = mini
    run = train_gan(images, labels, 3, tmp_path, steps=1, **TINY)
    run.checkpoint.write_bytes(b"not a checkpoint")
    with pytest.raises(LabelerError, match="not a Labeler checkpoint"):
        train_gan(images, labels, 3, tmp_path, steps=1, **TINY)


@pytest.mark.gpu
def test_trains_on_cuda_in_bf16(mini, tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("no CUDA GPU")
    images, labels = mini
    result = train_gan(
        images,
        labels,
        3,
        tmp_path,
        steps=5,
        width="small",
        batch_size=32,
        device="cuda",
        log_every=1,
    )
    assert result.device.startswith("cuda") and result.step == 5
    assert all(np.isfinite(v) for v in result.losses.values())
    out = generate(result.checkpoint, 0, [1, 2], device="cuda")
    assert out.shape == (2, 32, 32, 3)
