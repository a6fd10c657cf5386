"""Run git on the audited repository without running anything the repository configures.

A repository's own `.git/config` (and any file it includes) can name programs git runs while
reading history: `gpg.program` with `log.showSignature` (a signed commit), `core.fsmonitor`, a
`diff.<driver>.textconv` or `diff.external`, `core.pager`, hooks under `core.hooksPath`,
credential helpers, `core.sshCommand`. git has no switch to skip the repository's config, so
every such key is overridden on the command line (`-c` wins over every config file), the
operator's system and global config are not read at all, and the commands add the options that
turn the features off for this invocation (`--no-show-signature` and so on, see `safe_log`).
Filter drivers (`.gitattributes` clean/smudge) run only when git reads or writes the work tree's
files, which `rev-parse` and `log --name-only` never do.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Final

__all__ = ["GIT_SAFE_OPTIONS", "LOG_SAFE_OPTIONS", "git_env", "run_git"]

#: `-c` overrides for every key that makes git start a program (or a pager) while reading.
GIT_SAFE_OPTIONS: Final = (
    "--no-pager",
    "-c", "core.fsmonitor=false",
    "-c", "core.untrackedCache=false",
    "-c", "core.pager=cat",
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.sshCommand=false",
    "-c", "core.askPass=",
    "-c", "credential.helper=",
    "-c", "log.showSignature=false",
    "-c", "gpg.program=false",
    "-c", "gpg.openpgp.program=false",
    "-c", "gpg.x509.program=false",
    "-c", "gpg.ssh.program=false",
    "-c", "diff.external=",
    "-c", "protocol.allow=never",
    "-c", "uploadpack.packObjectsHook=",
)  # fmt: skip

#: Options of `git log` that switch off what a config could switch on.
LOG_SAFE_OPTIONS: Final = ("--no-show-signature", "--no-textconv", "--no-ext-diff", "--no-color")


def git_env() -> dict[str, str]:
    """The environment for git: no system/global config, no prompts, no optional index writes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        # A read must not rewrite the repository's index (a refresh would touch the audited repo).
        GIT_OPTIONAL_LOCKS="0",
        GIT_PAGER="cat",
        PAGER="cat",
    )
    return env


def run_git(root: Path, args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`git <safe options> -C root <args>`; OSError and TimeoutExpired propagate."""
    return subprocess.run(
        ["git", *GIT_SAFE_OPTIONS, "-C", str(root), *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        env=git_env(),
        stdin=subprocess.DEVNULL,
    )
