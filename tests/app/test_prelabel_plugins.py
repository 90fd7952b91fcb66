"""A plugin's pre-labeller (a site's own model), measured by Labeler, not by its own word:
offered only when its held-out balanced accuracy clears the bar; a broken one is one line and
writes nothing; from the command line through a plugin file in the user's plugin folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_prelabel import COLOURS, UNLABELED

from labeler.app.prelabel import pending, run_prelabel
from labeler.core.errors import LabelerError
from labeler.core.prelabellers import PRELABELLERS
from labeler.store import proposals as store

NEAREST = '''
import numpy as np


class Nearest:
    """Mean colour and nearest class centroid: the kind of small model a site brings."""

    name = "nearest-colour"
    title = "Nearest colour centroid"

    def features(self, image):
        return image.reshape(-1, 3).mean(axis=0)

    def fit_predict(self, x, y, x_new, n_classes):
        centroids = np.stack([x[y == k].mean(axis=0) for k in range(n_classes)])
        d = ((x_new[:, None, :] - centroids[None]) ** 2).sum(-1)
        scores = np.exp(-(d - d.min(axis=1, keepdims=True)) / 500.0)
        return scores / scores.sum(axis=1, keepdims=True)
'''


@pytest.fixture
def registered():
    """Register pre-labellers for one test, as a plugin's register() would, and take them back."""
    before = PRELABELLERS.snapshot()
    namespace: dict = {}
    exec(NEAREST, namespace)  # the same source the command-line test installs as a plugin file

    def add(obj=None):
        return PRELABELLERS.register(*(lambda o: (o.name, o))(obj or namespace["Nearest"]()))

    yield add
    PRELABELLERS.restore(before)


def test_a_plugin_model_is_measured_then_offered(colours, registered):
    p, truth = colours
    registered()
    report = run_prelabel(p, model="nearest-colour")
    assert report.offered, report.reason
    assert report.balanced_accuracy >= report.bar
    assert store.latest_run(p).model == "plugin:nearest-colour"
    names = {c.id: c.name for c in p.classes()}
    props = pending(p)
    assert sorted(q.image_id for q in props) == sorted(truth)
    assert sum(names[q.class_id] == truth[q.image_id] for q in props) >= 0.9 * len(truth)


class Guesser:
    """Claims to be sure of a class it picks at random: Labeler measures it as weak."""

    name = "guesser"
    title = "Confident guesser"

    def features(self, image):
        return np.zeros(4)

    def fit_predict(self, x, y, x_new, n_classes):
        rng = np.random.default_rng(len(x))
        probs = np.full((len(x_new), n_classes), 0.01)
        probs[np.arange(len(x_new)), rng.integers(0, n_classes, len(x_new))] = 0.98
        return probs


def test_a_plugin_cannot_claim_its_accuracy_a_weak_one_proposes_nothing(colours, registered):
    p, _ = colours
    registered(Guesser())
    report = run_prelabel(p, model="guesser")
    assert not report.offered and "too weak" in report.reason
    assert pending(p) == []


class Broken:
    name = "broken"
    title = "Broken"

    def __init__(self, where: str, answer=None) -> None:
        self.where, self.answer = where, answer

    def features(self, image):
        if self.where == "features":
            raise SystemExit(0)  # a plugin's exit must not end the run unsaid
        return self.answer if self.where == "shape" else image.reshape(-1, 3).mean(axis=0)

    def fit_predict(self, x, y, x_new, n_classes):
        if self.where == "fit":
            raise RuntimeError("model file missing\nsecond line")
        if self.where == "probs":
            return np.full((len(x_new), n_classes + 1), 0.5)
        return np.full((len(x_new), n_classes), np.nan)


@pytest.mark.parametrize(
    ("where", "answer", "said"),
    [
        ("features", None, "pre-labeller 'broken' failed: SystemExit"),
        ("shape", np.zeros((2, 2)), "returned features of shape (2, 2)"),
        ("shape", [1.0, float("inf")], "returned features that are not finite"),
        ("fit", None, "pre-labeller 'broken' failed: RuntimeError: second line"),
        ("probs", None, "returned probabilities of shape"),
        ("nan", None, "negative or non-finite probabilities"),
    ],
)
def test_a_broken_plugin_model_is_one_line_and_writes_nothing(
    colours, registered, where, answer, said
):
    p, _ = colours
    registered()
    run_prelabel(p, model="nearest-colour")  # earlier proposals, which a failure keeps
    before = sorted((q.image_id, q.class_id) for q in pending(p))
    runs = store.latest_run(p).id
    registered(Broken(where, answer))
    with pytest.raises(LabelerError) as e:
        run_prelabel(p, model="broken")
    assert said in str(e.value) and "\n" not in str(e.value)
    assert sorted((q.image_id, q.class_id) for q in pending(p)) == before
    assert store.latest_run(p).id == runs


def test_labeler_s_own_model_names_cannot_be_taken(registered):
    class Impostor(Guesser):
        name = "features"

    with pytest.raises(ValueError, match="one of Labeler's own models"):
        registered(Impostor())


def test_from_the_command_line_with_a_plugin_file(colours, tmp_path):
    p, truth = colours
    p.close()
    env = dict(os.environ)
    plugin_dir = Path(env["XDG_CONFIG_HOME"]) / "labeler" / "plugins"
    plugin_dir.mkdir(parents=True, exist_ok=True)
    (plugin_dir / "site_model.py").write_text(
        NEAREST + "\n\ndef register(api):\n    api.add_prelabeller(Nearest())\n"
    )
    labeler = [sys.executable, "-m", "labeler"]
    listing = subprocess.run(
        [*labeler, "plugins", "list", "--json"], capture_output=True, text=True, env=env
    )
    site = next(x for x in json.loads(listing.stdout)["plugins"] if x["name"] == "site_model")
    assert site["loaded"] and site["adds"]["prelabellers"] == ["nearest-colour"]
    out = subprocess.run(
        [*labeler, "prelabel", str(p.path), "--model", "nearest-colour", "--json"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["offered"] and report["proposals"] == len(COLOURS) * UNLABELED == len(truth)
    bad = subprocess.run(
        [*labeler, "prelabel", str(p.path), "--model", "nearest-color"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1
    assert "nearest-colour" in bad.stderr  # the known models are named
