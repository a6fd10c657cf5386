"""Enum fields as the gapic REST clients hand them over: a member, or a plain int.

The REST transports ask for `$alt=json;enum-encoding=int`, so a value Google added after the
installed client was built arrives as a number the client has no member for, and proto-plus
returns it as an int: `.name` on it is an AttributeError. Every enum a check reads goes through
`enum_name`, and a check that meets an unknown value says so instead of guessing.
"""

from __future__ import annotations

__all__ = ["enum_name", "is_known"]


def is_known(value: object) -> bool:
    """Whether the installed client has a member for this value."""
    return isinstance(getattr(value, "name", None), str)


def enum_name(value: object) -> str:
    """The member's name, or "value N (unknown to the installed client)"."""
    name = getattr(value, "name", None)
    if isinstance(name, str):
        return name
    return f"value {value!s} (unknown to the installed client)"
