"""A GAN checkpoint changed on disk after the project recorded it is never used (issue 12)."""

from __future__ import annotations

import pytest
import torch

from labeler.app import gan as jobs
from labeler.app.imports import import_folders
from labeler.app.splits import split_project
from labeler.cli import main
from labeler.core.errors import LabelerError
from labeler.store import gan as store


@pytest.fixture
def trained(project, cifar_subset):
    import_folders(project, [cifar_subset], labels_from_folders=True)
    split_project(project, (0.6, 0.2, 0.2), 0)
    jobs.train(project, steps=2, device="cpu", width="tiny", batch_size=8)
    return project


def tamper(path) -> None:
    """A well-formed checkpoint with other weights: what a swapped file looks like."""
    payload = torch.load(path, map_location="cpu", weights_only=True)
    state = payload["generator_ema"]
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 1.0
    torch.save(payload, path)


def test_a_modified_checkpoint_is_refused_by_suggest_and_resume(trained, capsys):
    p = trained
    gen = store.latest_generator(p)
    tamper(gen.checkpoint)
    with pytest.raises(LabelerError, match="not the checkpoint this project recorded"):
        jobs.suggest(p, target="max", device="cpu", arch="tiny", classifier_epochs=1, p_min=0)
    assert store.list_suggestions(p) == []
    with pytest.raises(LabelerError, match="not the checkpoint this project recorded"):
        jobs.train(p, steps=1, device="cpu", width="tiny", batch_size=8)
    assert store.latest_generator(p).id == gen.id  # nothing new recorded
    code = main(["gan", "suggest", str(p.path), "--device", "cpu", "--arch", "tiny"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1  # the one-line error, no device note before it
    assert "not the checkpoint this project recorded" in err


def test_an_untouched_checkpoint_resumes_and_its_snapshots_are_trusted(trained):
    p = trained
    first = store.latest_generator(p)
    jobs.train(p, steps=2, device="cpu", width="tiny", batch_size=8)
    again = store.latest_generator(p)
    assert again.step == first.step + 2 and again.checkpoint == first.checkpoint
    assert store.recorded_checkpoint(p, again.checkpoint) == again.sha256
