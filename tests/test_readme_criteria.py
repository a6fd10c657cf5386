"""The README's list of criterion ids (usable under `[criteria.<id>]`) is the suite's own."""

from __future__ import annotations

import re

from conftest import REPO
from readiness.criteria import CRITERIA


def test_readme_lists_exactly_the_criteria_a_manifest_can_configure() -> None:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("The criterion\nids usable under `[criteria.<id>]` are:")
    listed = re.findall(r"`([a-z0-9_]+)`", text[start : text.index("(a test holds this list", start)])
    assert listed == list(CRITERIA)
