"""Scripts of the repository that the manifest does not name: audited too, at P3, as UNDECLARED.

A script nobody declared is still a script somebody may run; the checks that need no
declaration (it parses, its imports resolve, its Dockerfile's sources exist: the criteria
declared `undeclared=True`) run on it so that completeness does not depend on the manifest
being complete.
"""

from __future__ import annotations

from readiness.discovery import discover, guess_category
from readiness.manifest import LoadedManifest, Script
from readiness.memo import RunMemo
from readiness.priorities import Priority

__all__ = ["UndeclaredScript", "undeclared_scripts"]


class UndeclaredScript(Script):
    """A script found in the repository that no `[[scripts]]` entry names."""


def undeclared_scripts(loaded: LoadedManifest, memo: RunMemo) -> tuple[UndeclaredScript, ...]:
    """The repository's scripts missing from the manifest, sorted by path; found once per run
    (collection, the imports probe and the inventory all ask, and must see the same list)."""
    return memo.once(_find, loaded)


def _find(loaded: LoadedManifest) -> tuple[UndeclaredScript, ...]:
    settings = loaded.manifest.discovery
    if not settings.enabled:
        return ()
    declared = {s.path for s in loaded.manifest.scripts}
    out: list[UndeclaredScript] = []
    for found in discover(loaded.root, settings.exclude):
        if found.path in declared:
            continue
        category, _ = guess_category(found.path, found.kind)
        out.append(
            UndeclaredScript(
                path=found.path,
                purpose="not in the manifest",
                category=category,  # type: ignore[arg-type]  # strict=False field: the enum's value
                kind=found.kind,  # type: ignore[arg-type]
                priority=Priority.P3,
            )
        )
    return tuple(out)
