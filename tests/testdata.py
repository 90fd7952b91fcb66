"""Where the tests' real data lives. Import from here, not from conftest (several conftest
modules exist, and which one `import conftest` finds depends on what ran first)."""

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESOURCES = REPO / "resources"
DEMO_PHOTOS = RESOURCES / "demo-photos"
CIFAR_MINI = RESOURCES / "cifar10-lt-mini"
TEST_DATA = REPO / "tests" / "data"
