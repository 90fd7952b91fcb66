"""The one registry behind ops, formats and health checks (ADR 0090)."""

from __future__ import annotations

import pytest

from labeler.core.augment import OPS
from labeler.core.errors import LabelerError
from labeler.core.formats import EXPORTERS, IMPORTERS
from labeler.core.health import HEALTH_CHECKS
from labeler.core.registry import Registry, did_you_mean


def _sizes() -> Registry[int]:
    def check(name: str, value: int) -> None:
        if not isinstance(value, int):
            raise TypeError(f"size {name!r} must be an int")

    sizes: Registry[int] = Registry("size", called="image size", check=check)
    sizes.register("small", 32)
    sizes.register("large", 1024)
    return sizes


def test_it_reads_like_a_read_only_dict_in_registration_order():
    sizes = _sizes()
    assert list(sizes) == ["small", "large"] and len(sizes) == 2
    assert "small" in sizes and "huge" not in sizes and ["unhashable"] not in sizes
    assert sizes["large"] == 1024 and sizes.get("small") == 32
    assert dict(sizes) == {"small": 32, "large": 1024}
    assert sizes.items() == [("small", 32), ("large", 1024)] and sizes.values() == [32, 1024]
    with pytest.raises(TypeError):
        sizes["huge"] = 2048  # type: ignore[index]


def test_an_unknown_name_is_one_line_with_a_suggestion():
    sizes = _sizes()
    with pytest.raises(LabelerError) as e:
        sizes.get("smal", where="steps[0]")
    assert str(e.value) == (
        "steps[0]: unknown image size 'smal' (did you mean 'small'?); "
        "known image sizes: large, small"
    )
    with pytest.raises(LabelerError, match=r"^unknown image size \['x'\]; known"):
        sizes[["x"]]  # type: ignore[index]
    with pytest.raises(LabelerError, match="known image sizes: none"):
        Registry("size", called="image size").get("any")
    assert did_you_mean("zzz", ["small"]) == "" and did_you_mean(3, ["small"]) == ""


def test_a_taken_name_raises_unless_it_is_the_same_object_or_replace():
    sizes = _sizes()
    big = 10**6  # not an interned small int, so "the same object" means something
    sizes.register("big", big)
    assert sizes.register("big", big) is big
    with pytest.raises(LabelerError, match="^a size named 'small' is already registered$"):
        sizes.register("small", 64)
    assert sizes["small"] == 32
    sizes.register("small", 64, replace=True)
    assert sizes["small"] == 64
    with pytest.raises(TypeError, match="must be an int"):
        sizes.register("odd", "32")  # type: ignore[arg-type]
    assert "odd" not in sizes
    exporters: Registry[int] = Registry("exporter")
    exporters.register("a", 1000)
    with pytest.raises(LabelerError, match="^an exporter named 'a' is already registered$"):
        exporters.register("a", 2000)


def test_snapshot_and_restore_bring_back_the_same_objects_in_order():
    sizes = _sizes()
    before = sizes.snapshot()
    view = sizes.view()
    sizes.unregister("small")
    sizes.unregister("never-registered")
    sizes.register("medium", 256)
    assert list(view) == ["large", "medium"], "the view is live"
    sizes.restore(before)
    assert sizes.items() == [("small", 32), ("large", 1024)]
    assert list(view) == ["small", "large"]
    with pytest.raises(TypeError):
        view["small"] = 1  # type: ignore[index]


@pytest.mark.parametrize(
    "registry", [OPS, EXPORTERS, IMPORTERS, HEALTH_CHECKS], ids=lambda r: r.what
)
def test_every_registry_holds_labelers_own_features_and_round_trips(registry):
    assert len(registry) > 0
    before = registry.snapshot()
    name, obj = registry.items()[0]
    registry.unregister(name)
    assert name not in registry
    registry.restore(before)
    assert registry.snapshot() == before and registry.items()[0] == (name, obj)
