"""A property-based hostile corpus (hypothesis) over the manifest and small generated repositories.

Fixed budget, derandomized, so CI runs the same examples every time:
- 200 generated manifests loaded in-process: each loads, or raises ManifestError whose error
  line (as the suite prints it) is one line of at most 1,000 characters; nothing else escapes.
- 12 generated repositories audited end to end (a subprocess each): the exit code is one the
  README documents, a bad manifest gives at most one error line, no output holds a traceback,
  and the documents are all there (one run) or absent.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import warm_pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import MANIFEST_HEAD, REPO
from readiness.manifest import ManifestError, load_manifest
from readiness.textsafe import one_line

#: The codes the README documents: pytest's (0, 1 findings, 4 usage error, 5 nothing collected).
DOCUMENTED_EXITS = {0, 1, 4, 5}
DOCUMENT_STEMS = (
    "AUDIT_SUMMARY",
    "DEPENDENCY_ANALYSIS",
    "EXECUTION_BLOCKER_ANALYSIS",
    "IMPLEMENTATION_SCRIPT_INVENTORY",
    "INFRASTRUCTURE_READINESS_REPORT",
    "READINESS_RESULTS",
)

# Text with the characters that broke outputs before: controls, bidi, quotes, markup, newlines.
_NASTY = st.text(
    alphabet=st.sampled_from(
        [
            *list("abcXYZ019 _-./\\\"'<>|&;=@:#[]{}\n\t\r"),
            "\x00",
            "\x1b",
            "\u202e",
            "\u200b",
            "é",
            "ｅ",
            "\ud7ff",
        ]
    ),
    max_size=40,
)
_SCALAR = st.one_of(
    _NASTY,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
_KEYS = st.sampled_from(
    [
        "path",
        "purpose",
        "category",
        "priority",
        "flags",
        "create_hours",
        "kind",
        "owner",
        "phases",
        "criteria",
    ]
) | _NASTY.filter(bool)
_CATEGORIES = st.sampled_from(["generation", "analysis", "extraction/merge", "deployment", "bogus", ""])


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)  # a TOML basic string (or invalid TOML: also fine)


@st.composite
def manifests(draw: st.DrawFn) -> str:
    """A manifest near a valid one: a few scripts and packages, then random keys and values,
    duplicates that differ by case, and sometimes raw text spliced in."""
    parts = [MANIFEST_HEAD]
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(["a.py", "b.sh", "c/d.py", "../x.py", "Dockerfile"]) | _NASTY)
        parts.append(
            f'\n[[scripts]]\npath = {_toml_value(path)}\npurpose = "p"\ncategory = {_toml_value(draw(_CATEGORIES))}\n'
        )
        for _ in range(draw(st.integers(0, 2))):
            key = draw(_KEYS)
            parts.append(
                f"{json.dumps(key, ensure_ascii=False)} = {_toml_value(draw(_SCALAR | st.lists(_SCALAR, max_size=3)))}\n"
            )
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from(["requests", "Requests", "foo_bar", "foo-bar"]) | _NASTY)
        parts.append(f"\n[[packages]]\nname = {_toml_value(name)}\nspec = {_toml_value(draw(_NASTY))}\n")
    if draw(st.booleans()):
        parts.append(
            f'\n[[phases]]\nid = {_toml_value(draw(st.sampled_from(["4c", "5", "６"]) | _NASTY))}\nname = "x"\nstart = 2026-12-01\n'
        )
    text = "".join(parts)
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(_NASTY) + text[at:]
    return text


@settings(max_examples=200, derandomize=True, deadline=None, database=None)
@given(text=manifests())
def test_any_manifest_loads_or_gives_one_error_line(text: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "readiness.toml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            load_manifest(path)
        except ManifestError as exc:
            line = one_line(str(exc))
            assert "\n" not in line and len(line) <= 1000
            assert line.startswith(str(path)), line


@st.composite
def repositories(draw: st.DrawFn) -> tuple[str, dict[str, bytes]]:
    """A manifest (often valid) and a few files with hostile content."""
    files: dict[str, bytes] = {
        "requirements.txt": draw(st.sampled_from([b"", b"requests==2.31\n", b"bad ===\n", b"\xff\xfe"]))
    }
    body = ""
    for name in draw(
        st.lists(st.sampled_from(["a.py", "b.sh", "Dockerfile", "cloudbuild.yaml"]), max_size=3, unique=True)
    ):
        content = draw(
            st.sampled_from(
                [
                    b"print('ok')\n",
                    b"# -*- coding: rot13 -*-\nx = 1\n",
                    b"def broken(:\n",
                    b"#!/bin/bash\r\necho hi\n",
                    b"\x00\x01binary",
                    b"steps: [\n",
                    b'FROM python:3.11\nCMD ["python", "/app/\x1b[31mred.py"]\n',
                    "caf\u00e9 \u202e\n".encode(),
                ]
            )
        )
        files[name] = content
        category = "deployment" if name in ("Dockerfile", "cloudbuild.yaml") else "analysis"
        body += f'\n[[scripts]]\npath = "{name}"\npurpose = "p"\ncategory = "{category}"\n'
    if draw(st.integers(0, 3)) == 0:
        body += draw(manifests()).removeprefix(MANIFEST_HEAD)
    return MANIFEST_HEAD + body, files


@settings(
    max_examples=12,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(repo=repositories())
def test_any_generated_repository_gives_a_documented_outcome(repo: tuple[str, dict[str, bytes]]) -> None:
    manifest_text, files = repo
    work = Path(tempfile.mkdtemp(prefix="readiness-fuzz-"))
    try:
        target = work / "target"
        target.mkdir()
        for name, content in files.items():
            (target / name).write_bytes(content)
        manifest = target / "readiness.toml"
        manifest.write_bytes(manifest_text.encode("utf-8", "surrogatepass"))
        out = work / "out"
        pytest_args = [
            "-c", str(REPO / "pytest.ini"), "--rootdir", str(REPO),
            str(REPO / "checks"), "--manifest", str(manifest), "--readiness-out", str(out),
            "--readiness-now", "2026-11-22T06:00:00", "-p", "no:cacheprovider",
        ]  # fmt: skip
        # `python -m pytest`, forked from the warm interpreter (warm_pytest.py).
        returncode, stdout, stderr = warm_pytest.run_captured(
            pytest_args, cwd=work, env=os.environ, timeout=180, errors="replace"
        )
        output = stdout + stderr
        assert returncode in DOCUMENTED_EXITS, output[-3000:]
        assert "Traceback" not in output and "INTERNALERROR" not in output, output[-3000:]
        if returncode == 4:
            assert len([line for line in stderr.splitlines() if line.strip()]) <= 1, stderr
            assert not out.exists()
            return
        if returncode == 5:  # nothing selected: no verdict, and no documents claiming one
            assert "no verdict, no documents written" in output, output[-3000:]
            assert not out.exists()
            return
        names = sorted(p.name for p in out.iterdir())
        for stem in DOCUMENT_STEMS:
            assert any(n.startswith(stem + "_") for n in names), (stem, names)
        data = json.loads((out / "READINESS_RESULTS_20261122.json").read_text(encoding="utf-8"))
        assert data["run"]["id"]
        assert not [n for n in names if n.startswith(".") or n.endswith(".tmp")], names
    finally:
        shutil.rmtree(work, ignore_errors=True)
