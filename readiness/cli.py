"""`readiness <command> [args]`: one table of subcommands, each a `main(argv) -> int` imported only
when it runs (a new command is one line in COMMANDS)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import cast

__all__ = ["COMMANDS", "main"]

#: name -> ("module:function", one-line help). The function takes the remaining arguments.
COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("readiness.audit:main", "run the readiness audit (any pytest arguments)"),
    "init": (
        "readiness.init_manifest:main",
        "write a first manifest from a repository (never runs its code)",
    ),
    "review": ("reporting.review:main", "write the issue-resolution review from run history"),
}


def _usage() -> str:
    lines = ["usage: readiness <command> [args]", "", "commands:"]
    lines += [f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help"}:
        print(_usage())
        return 0 if args else 2
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"readiness: unknown command {name!r}\n{_usage()}", file=sys.stderr)
        return 2
    module, _, function = COMMANDS[name][0].partition(":")
    command = cast(Callable[[list[str]], int], getattr(importlib.import_module(module), function))
    return int(command(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
