"""The GAN path on a real project, on the CPU at the tiny size: train, suggest, review,
provenance, splits and exports, evaluate."""

from __future__ import annotations

import json

import pytest

from labeler.app import gan as jobs
from labeler.app.exports import export_project
from labeler.app.imports import import_folders
from labeler.app.splits import split_project
from labeler.core.errors import LabelerError
from labeler.ml.evaluate import ROWS
from labeler.store import gan as store


@pytest.fixture
def trained(project, cifar_subset):
    import torch

    torch.set_num_threads(2)
    import_folders(project, [cifar_subset], labels_from_folders=True)
    split_project(project, (0.6, 0.2, 0.2), 0)
    jobs.train(project, steps=3, device="cpu", width="tiny", batch_size=8)
    return project


def test_gan_needs_a_train_split(project, cifar_subset):
    import_folders(project, [cifar_subset], labels_from_folders=True)
    with pytest.raises(LabelerError, match="labeler split"):
        jobs.train(project, steps=1, device="cpu", width="tiny")


def test_suggest_review_and_generated_images_stay_in_train(trained, tmp_path):
    p = trained
    gen = store.latest_generator(p)
    assert gen is not None and gen.step == 3
    data = jobs.suggest(p, target="max", device="cpu", arch="tiny", classifier_epochs=1, p_min=0)
    pending = store.list_suggestions(p, status="pending")
    assert len(pending) == len(data["suggestions"]) > 0
    assert all(p.resolve(s.path).is_file() for s in pending)
    first, second = pending[0], pending[1]
    (image_id,) = jobs.accept_suggestions(p, [first.id])
    store.reject_suggestions(p, [second.id])
    with pytest.raises(LabelerError, match="already accepted"):
        jobs.accept_suggestions(p, [first.id])
    img = p.image(image_id)
    assert (img.provenance, img.split) == ("generated", "train")
    info = json.loads(img.provenance_info)
    assert info["checkpoint_sha256"] == gen.sha256 and info["seed"] == first.seed
    assert [s.class_id for s in p.shapes(image_id)] == [first.class_id]
    for seed in range(3):  # reshuffled splits never move it out of train
        split_project(p, (0.2, 0.4, 0.4), seed, reshuffle=True)
        assert p.image(image_id).split == "train"
    out = export_project(p, "imagefolder", tmp_path / "v")
    manifest = json.loads((tmp_path / "v" / "manifest.json").read_text())
    generated = [im for im in manifest["images"] if im["generated"]]
    assert len(generated) == 1 and generated[0]["split"] == "train"
    assert out.report.verified
    # A second round offers new samples, never the rejected one again.
    jobs.suggest(p, target="max", device="cpu", arch="tiny", classifier_epochs=1, p_min=0)
    again = [(s.class_id, s.seed) for s in store.list_suggestions(p) if s.id != second.id]
    assert (second.class_id, second.seed) not in again


def test_evaluate_reports_every_row_on_the_val_split(trained):
    p = trained
    jobs.suggest(p, target="max", device="cpu", arch="tiny", classifier_epochs=1, p_min=0)
    added = jobs.accept_suggestions(
        p, [s.id for s in store.list_suggestions(p, status="pending")][:3]
    )
    assert added
    data = jobs.evaluate(p, epochs=1, device="cpu", arch="tiny", seeds=2)
    assert list(data["rows"]) == list(ROWS) and data["seeds"] == [0, 1]
    assert data["rows"]["real_plus_generated"]["generated_images"] == len(added)
    assert data["verdict"]["outcome"] in ("better", "no measurable difference", "worse")
    assert data["classes"] == ["airplane", "cat", "truck"]
    # The suggestion classifier was trained with the real-balanced row's budget: reused.
    assert data["reused"] == "real_balanced"
    # Another budget (more steps) trains every row afresh.
    assert "reused" not in jobs.evaluate(p, steps=5, device="cpu", arch="tiny", seeds=1)
    for bad in ({"seeds": 0}, {"gen_weight": -1.0}, {"gen_weight": float("nan")}):
        with pytest.raises(LabelerError, match="seeds|weight"):
            jobs.evaluate(p, epochs=1, device="cpu", arch="tiny", **bad)


def test_suggest_and_evaluate_stop_when_asked(trained):
    p = trained
    data = jobs.suggest(
        p, target="max", device="cpu", arch="tiny", classifier_epochs=1, p_min=0,
        should_stop=lambda: True,
    )  # fmt: skip
    assert data["cancelled"] and store.list_suggestions(p) == []
    with pytest.raises(LabelerError, match="cancelled"):
        jobs.evaluate(p, epochs=1, device="cpu", arch="tiny", seeds=1, should_stop=lambda: True)


def test_suggest_says_how_long_its_classifier_will_train_before_it_starts(trained):
    p = trained
    seen: list[dict] = []
    kw = dict(target="max", device="cpu", arch="small", classifier_epochs=1, p_min=0)
    data = jobs.suggest(p, progress=seen.append, **kw)
    first = seen[0]  # before the classifier's first step, and before any sample is drawn
    assert first["stage"] == "classifier" and first["arch"] == "small"
    assert first["estimated_s"] > 0 and first["steps"] >= 1
    assert data["classifier"]["estimated_s"] == first["estimated_s"]
    assert not data["classifier"]["cached"] and data["classifier"]["train_s"] > 0
    seen.clear()
    again = jobs.suggest(p, progress=seen.append, **kw)  # the cached classifier: no training
    assert again["classifier"]["cached"] and not any("estimated_s" in d for d in seen)


def test_a_cached_classifier_that_changed_or_has_another_budget_is_trained_again(trained):
    """Outside try: a cached classifier with zeroed weights (saved as a valid file) was used,
    though its sidecar's SHA-256 no longer matched; --classifier-epochs was ignored when a
    cache existed; a damaged cache blocked suggest until deleted by hand."""
    import torch

    p = trained
    kw = dict(target="max", device="cpu", arch="tiny", p_min=0)
    first = jobs.suggest(p, classifier_epochs=1, **kw)["classifier"]
    assert not first["cached"]
    (cache,) = jobs.gan_folder(p).glob("classifier-tiny-*.pt")
    # Changed on disk: a well-formed file with other weights.
    payload = torch.load(cache, weights_only=True)
    payload["state"] = {k: torch.zeros_like(v) for k, v in payload["state"].items()}
    torch.save(payload, cache)
    again = jobs.suggest(p, classifier_epochs=1, **kw)["classifier"]
    assert not again["cached"] and "changed on disk" in again["retrained"]
    assert jobs.suggest(p, classifier_epochs=1, **kw)["classifier"]["cached"]  # saved anew
    # Another budget: trained again, for the epochs asked.
    other = jobs.suggest(p, classifier_epochs=40, **kw)["classifier"]  # more steps
    assert not other["cached"] and "another budget" in other["retrained"]
    # Damaged: cut short. Trained again, not an error.
    cache.write_bytes(cache.read_bytes()[:100])
    damaged = jobs.suggest(p, classifier_epochs=40, **kw)["classifier"]
    assert not damaged["cached"] and damaged["retrained"]
