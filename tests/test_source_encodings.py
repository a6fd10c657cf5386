"""Scripts are read the way Python reads them: a PEP 263 coding cookie is honoured."""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.inspect.files import RepoFileError, read_text


def test_latin1_script_with_coding_cookie_is_read_not_refused(tmp_path: Path) -> None:
    (tmp_path / "legacy.py").write_bytes(b"# -*- coding: latin-1 -*-\nNAME = 'caf\xe9'\n")
    assert "café" in read_text(tmp_path, "legacy.py")


def test_utf8_bom_script_is_read_without_the_bom(tmp_path: Path) -> None:
    (tmp_path / "bom.py").write_bytes(b"\xef\xbb\xbfX = 1\n")
    assert read_text(tmp_path, "bom.py") == "X = 1\n"


def test_latin1_script_without_cookie_is_a_finding_naming_the_offset(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_bytes(b"NAME = 'caf\xe9'\n")
    with pytest.raises(RepoFileError, match=r"bad.py: not UTF-8 \(invalid byte at offset 11\)"):
        read_text(tmp_path, "bad.py")


def test_shell_script_ignores_python_cookies(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_bytes(b"# -*- coding: latin-1 -*-\necho caf\xe9\n")
    with pytest.raises(RepoFileError, match="not UTF-8"):
        read_text(tmp_path, "run.sh")
