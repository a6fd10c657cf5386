"""`readiness init`: a first manifest for a repository, from its files alone.

    python -m readiness.init_manifest --target-root ../pipeline [--out readiness.toml] [--diff]

Writes a complete, commented manifest that loads with the suite's own loader. When the manifest
already exists it is never changed: what is new in the repository is printed as commented
suggestions, or with `--diff` as a unified diff to apply.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import os
import sys
import tempfile
import time
from pathlib import Path

from packaging.utils import canonicalize_name

from readiness.manifest import LoadedManifest, ManifestError, load_manifest
from readiness.render import manifest_text, package_block, script_block, tool_block
from readiness.scan import RepoScan, scan

__all__ = ["main", "suggestions"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="readiness init", description="Write a first readiness manifest for a repository."
    )
    parser.add_argument("--target-root", required=True, type=Path, help="the repository to scan")
    parser.add_argument("--out", type=Path, default=Path("readiness.toml"), help="the manifest to write")
    parser.add_argument(
        "--diff", action="store_true", help="on an existing manifest: print the additions as a unified diff"
    )
    parser.add_argument(
        "--gcp-project", default="", help="also list this project's datasets, buckets, jobs and APIs"
    )
    parser.add_argument("--gcp-location", default="US", help="BigQuery location (default US)")
    parser.add_argument("--gcp-region", default="us-central1", help="Cloud Run region (default us-central1)")
    args = parser.parse_args(argv)
    root: Path = args.target_root
    out: Path = args.out
    if not root.is_dir():
        print(f"readiness init: --target-root {str(root)!r} is not a directory", file=sys.stderr)
        return 2
    started = time.perf_counter()
    if out.exists():
        return _suggest(root, out, args.diff, started)
    repo = scan(root)
    text = manifest_text(repo, out, dt.date.today())
    if args.gcp_project:
        from readiness.gcp_listing import gcp_text, list_project  # Google clients only when asked

        text += gcp_text(list_project(args.gcp_project, args.gcp_location, args.gcp_region))
    try:
        _write_valid(out, text)
    except (ManifestError, OSError) as exc:
        print(f"readiness init: {out}: not written: {exc}", file=sys.stderr)
        return 1
    took = time.perf_counter() - started
    needed = sum(1 for e in repo.entries if e.needed)
    print(
        f"{out}: {len(repo.entries)} scripts ({needed} run by the repository), {len(repo.packages)} packages, "
        f"{len(repo.tools)} tools, in {took:.2f} s. Review the comments, then audit: "
        f"readiness audit --manifest {out} --target-root {root}"
    )
    return 0


def _write_valid(out: Path, text: str) -> None:
    """Write through a temporary file beside `out`, loaded with the suite's loader first."""
    folder = out.resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".readiness-init-", suffix=".toml", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_manifest(Path(tmp))
        os.replace(tmp, out)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _suggest(root: Path, out: Path, as_diff: bool, started: float) -> int:
    try:
        loaded = load_manifest(out, root_override=root)
        current = out.read_text(encoding="utf-8")
    except (ManifestError, OSError, UnicodeDecodeError) as exc:
        print(f"readiness init: {exc}", file=sys.stderr)
        return 2
    repo = scan(loaded.root, loaded.manifest.discovery.exclude)
    blocks, notes = suggestions(loaded, repo)
    took = time.perf_counter() - started
    if not blocks and not notes:
        print(f"{out}: unchanged; nothing new in the repository ({took:.2f} s).")
        return 0
    if as_diff:
        added = current.rstrip("\n") + "\n" + "".join("\n" + "\n".join(b) + "\n" for b in blocks)
        sys.stdout.writelines(
            difflib.unified_diff(
                current.splitlines(keepends=True),
                added.splitlines(keepends=True),
                str(out),
                f"{out} (suggested)",
            )
        )
        for note in notes:
            print(f"# {note}")
        return 0
    print(f"# {out} is not changed. New in the repository since it was written ({took:.2f} s):")
    for note in notes:
        print(f"# {note}")
    for block in blocks:
        print("#")
        print("\n".join(f"# {line}" if not line.startswith("#") else f"#{line}" for line in block))
    return 0


def suggestions(loaded: LoadedManifest, repo: RepoScan) -> tuple[list[list[str]], list[str]]:
    """(blocks to add, one-line notes) for what the repository has and the manifest lacks."""
    manifest = loaded.manifest
    declared = {s.path: s for s in manifest.scripts}
    blocks: list[list[str]] = []
    notes: list[str] = []
    found = {e.path for e in repo.entries}
    for entry in repo.entries:
        script = declared.get(entry.path)
        if script is None:
            blocks.append(script_block(entry))
            continue
        extra = [f for f in entry.invoked_flags if f not in script.flags]
        if extra:
            notes.append(
                f"{entry.path}: the repository passes {' '.join(extra)} ({entry.invoked_by[0]}), not in its flags"
            )
        started = entry.started_with
        if started not in (None, "path") and script.started_with is None:
            notes.append(
                f'{entry.path}: the repository starts it as {started} ({entry.invoked_by[0]}): set started_with = "{started}"'
            )
    for path in sorted(set(declared) - found):
        if not (loaded.root / path).exists():
            notes.append(f"{path}: in the manifest, not in the repository")
    packages = {canonicalize_name(p.name) for p in manifest.packages}
    blocks += [package_block(p) for p in repo.packages if p.name not in packages]
    tools = {t.name for t in manifest.tools}
    needed = {e.path for e in repo.entries if e.needed}
    blocks += [
        tool_block(name, users, any(u in needed for u in users))
        for name, users in sorted(repo.tools.items())
        if name not in tools
    ]
    return blocks, notes


if __name__ == "__main__":
    sys.exit(main())
