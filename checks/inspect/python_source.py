"""What a Python script needs and offers, found statically (the script is never run)."""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field

__all__ = ["PythonSource", "parse_python", "third_party"]

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
    tree = ast.parse(text, filename=filename)
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


def third_party(imports: tuple[str, ...]) -> list[str]:
    """Top-level names of imports that are not in the standard library, in first-seen order."""
    tops = (name.split(".", 1)[0] for name in imports)
    return list(dict.fromkeys(t for t in tops if t not in sys.stdlib_module_names and t != "__future__"))
