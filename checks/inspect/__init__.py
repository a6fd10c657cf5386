"""Static inspection of the target repository: source parsing, flags, imports, files, git facts.

Nothing here runs the repository's code or configuration. The programs started on it, and why
each is safe:
- git (safe_git.py): every config key that runs a program is overridden, system and global
  config are not read, optional index writes are off.
- `bash -n` (shell_source.py): parses without executing; a non-interactive bash sources
  BASH_ENV only when it runs commands, and the file is passed as an argument, never sourced.
- the pipeline's interpreter with `-I` (interpreter.py): isolated mode ignores PYTHON*
  variables, the user site and the current folder, so the repository's modules are not on the
  path; it only looks up installed distributions and module specs.
- tools on PATH asked for `--version` (tools.py): the operator's tools, resolved through PATH,
  never a file of the repository.
"""
