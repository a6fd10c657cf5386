"""Writing the documents of one run: all of them replace the previous set at once, or none does.

Every document is rendered before the first byte is written. They are written into a fresh
staging folder beside the output folder (`.<name>.staging-<pid>-...`), each file flushed to
disk, and the staging folder then takes the output folder's place in one step: an atomic
exchange of the two folders (Linux renameat2 RENAME_EXCHANGE), or, where that is not
available, two renames (the output folder is briefly absent, never a mix of two runs). Files in
the output folder that are not this run's documents (an earlier day's, the HTML report) are
carried into the new folder first. Whatever fails (a full disk, a folder in the way, SIGTERM
during the write), the staging folder is removed and the previous documents stay as they were.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import signal
import stat
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

__all__ = ["DocumentWriteError", "replace_document", "write_documents"]

_STAGING = ".{name}.staging-"
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


class DocumentWriteError(Exception):
    pass


class _Terminated(BaseException):
    """SIGTERM while writing: unwinds through the cleanup, then the process ends."""


def write_documents(out_dir: Path, documents: Mapping[str, str | bytes]) -> list[Path]:
    """Write `documents` (file name -> text or bytes) as the output folder's new set."""
    out_dir = out_dir.absolute()
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DocumentWriteError(f"{out_dir}: cannot create the output folder: {_reason(exc)}") from None
    if out_dir.exists() and not out_dir.is_dir():
        raise DocumentWriteError(f"{out_dir}: cannot create the output folder: a file is in the way")
    # A folder under a document's name is someone's: never replaced by a document.
    blocked = [out_dir / n for n in documents if (out_dir / n).is_dir()]
    if blocked:
        raise DocumentWriteError(f"{blocked[0]}: a folder is in the way of the document")
    _remove_abandoned(out_dir)
    with _cleanup_on_sigterm():
        staging: Path | None = None
        try:
            prefix = _STAGING.format(name=out_dir.name) + f"{os.getpid()}-"
            staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
            # mkdtemp makes it private (0700); the output folder keeps the mode it had, or gets
            # the one mkdir would have given it.
            os.chmod(staging, _folder_mode(out_dir))
            for name, content in documents.items():
                _write_synced(staging / name, content)
            if out_dir.is_dir():
                _carry_over(out_dir, staging, set(documents))
            _fsync_dir(staging)
            _swap(staging, out_dir)
            staging = None if not staging.exists() else staging
        except OSError as exc:
            raise DocumentWriteError(f"{out_dir}: cannot write the documents: {_reason(exc)}") from None
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in documents]


def replace_document(out_dir: Path, name: str, content: str | bytes) -> None:
    """Replace one document of the set already written (the notification result in the JSON)."""
    final = out_dir / name
    tmp = out_dir / f".{name}.{os.getpid()}.tmp"
    with _cleanup_on_sigterm():
        try:
            _write_synced(tmp, content)
            os.replace(tmp, final)
        except OSError as exc:
            raise DocumentWriteError(f"{final}: cannot rewrite: {_reason(exc)}") from None
        finally:
            tmp.unlink(missing_ok=True)


def _folder_mode(out_dir: Path) -> int:
    try:
        return stat.S_IMODE(out_dir.stat().st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o777 & ~umask


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _write_synced(path: Path, content: str | bytes) -> None:
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _carry_over(old: Path, new: Path, ours: set[str]) -> None:
    """Entries of the old folder that this run does not write move into the new one unchanged."""
    for entry in old.iterdir():
        if entry.name in ours:
            continue
        target = new / entry.name
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, target, symlinks=True)
        else:
            try:
                os.link(entry, target, follow_symlinks=False)
            except OSError:
                shutil.copy2(entry, target, follow_symlinks=False)


def _swap(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        os.rename(staging, out_dir)
        return
    if _exchange(staging, out_dir):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the previous set
        return
    previous = staging.with_name(staging.name + "-previous")
    os.rename(out_dir, previous)
    try:
        os.rename(staging, out_dir)
    except OSError:
        os.rename(previous, out_dir)
        raise
    shutil.rmtree(previous, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two folders; False where the system cannot."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    result = renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if result == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.EINVAL, errno.ENOSYS, errno.EPERM, errno.ENOTSUP):
        return False  # the file system or kernel does not support it: the two-rename fallback
    raise OSError(err, os.strerror(err))


def _remove_abandoned(out_dir: Path) -> None:
    """Staging folders of a writer killed outright (SIGKILL): their process is gone."""
    prefix = _STAGING.format(name=out_dir.name)
    with contextlib.suppress(OSError):
        for entry in out_dir.parent.iterdir():
            if not entry.name.startswith(prefix):
                continue
            pid = entry.name.removeprefix(prefix).split("-", 1)[0]
            if pid.isdigit() and not _alive(int(pid)):
                shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def _cleanup_on_sigterm() -> Iterator[None]:
    """SIGTERM during the write raises, so the `finally` blocks remove the staging files; the
    process then ends with the usual status of a SIGTERM."""
    try:
        previous = signal.getsignal(signal.SIGTERM)
        signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread: no handler can be installed
        yield
        return
    try:
        yield
    except _Terminated:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise _Terminated
