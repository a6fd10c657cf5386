"""What a Python script needs and offers, found statically (the script is never run)."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PythonSource", "local_modules", "parse_python", "third_party"]

#: Call names whose first string arguments are CLI options: argparse, click and typer.
_OPTION_CALLS = frozenset({"add_argument", "option", "Option", "argument"})


@dataclass(frozen=True, slots=True)
class PythonSource:
    #: Dotted modules imported anywhere in the file (absolute imports only).
    imports: tuple[str, ...]
    #: Option strings defined through argparse/click/typer ("--workers", "-w").
    flags: tuple[str, ...]
    #: True when the script parses with sys.argv by hand, so flags cannot be found statically.
    reads_argv: bool = field(default=False)


def parse_python(text: str, filename: str) -> PythonSource:
    """Parse a script; raises SyntaxError with the file's line number when it does not parse."""
    try:
        tree = ast.parse(text, filename=filename)
    except (RecursionError, MemoryError):
        # CPython reports nesting too deep for its parser as one of these (3.11: MemoryError
        # "s_push: parser stack overflow"); python itself would refuse the file the same way.
        raise SyntaxError(
            "nested too deeply for the Python parser (line not known)", (filename, 1, 0, None)
        ) from None
    except ValueError as exc:  # NUL bytes past the binary sniff (some 3.11 releases)
        raise SyntaxError(str(exc), (filename, _nul_line(text), 0, None)) from None
    except SyntaxError as exc:
        if exc.lineno is None:  # "source code string cannot contain null bytes" has no line
            exc.lineno = _nul_line(text)
        raise
    imports: list[str] = []
    flags: list[str] = []
    reads_argv = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imports.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imports.append(node.module)
        elif isinstance(node, ast.Call):
            flags.extend(_option_strings(node))
        elif (
            isinstance(node, ast.Attribute)
            and node.attr == "argv"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            reads_argv = True
    return PythonSource(tuple(dict.fromkeys(imports)), tuple(dict.fromkeys(flags)), reads_argv)


def _nul_line(text: str) -> int:
    at = text.find("\0")
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _option_strings(call: ast.Call) -> list[str]:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if name not in _OPTION_CALLS:
        return []
    return [
        arg.value
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.startswith("-")
    ]


def local_modules(root: Path, script: str) -> set[str]:
    """Top-level names importable from the repo itself: the script's siblings and root packages.

    Python puts the script's folder on sys.path, and the pipeline runs from the repo root;
    an import of either is the repo's own code, not a dependency.
    """
    names: set[str] = set()
    for folder in {root, (root / script).parent}:
        try:
            children = list(folder.iterdir())
        except OSError:
            continue
        for child in children:
            if child.suffix == ".py":
                names.add(child.stem)
            elif child.is_dir() and (child / "__init__.py").is_file():
                names.add(child.name)
    return names


def third_party(imports: tuple[str, ...], local: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Top-level names of imports that are not in the standard library, in first-seen order."""
    tops = (name.split(".", 1)[0] for name in imports)
    return list(
        dict.fromkeys(
            t for t in tops if t not in sys.stdlib_module_names and t != "__future__" and t not in local
        )
    )
