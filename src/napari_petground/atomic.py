"""Atomic writes: the package's one way to put a file on disk so that readers never see half of it.

Every file is written to a dot-named temporary beside its target, flushed to disk, renamed over the target and
the folder flushed after the rename: after a crash or a power cut the target holds either its old bytes or the
new ones. A killed writer leaves only its temporary, named ``.STEM.RANDOM.tmpEXT`` (``EXT`` the format suffix
the writing library needs, e.g. ``.nii.gz``), which the dataset and review folders clear once it is old.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable
from pathlib import Path

# suffixes a writing library reads the file format from: kept at the end of the temporary's name
FORMAT_SUFFIXES = (".nii.gz", ".nii", ".dcm", ".png", ".npz", ".npy")


def format_suffix(path: Path) -> str:
    """The suffix a library needs to see to pick ``path``'s format ("" when it needs none)."""
    name = path.name.lower()
    return next((path.name[-len(s):] for s in FORMAT_SUFFIXES if name.endswith(s) and len(name) > len(s)), "")


def temporary_for(path: Path) -> Path:
    """A new, empty, dot-named temporary file beside ``path`` (``.STEM.RANDOM.tmpEXT``), with the permissions
    the written file should end with: those of the file it replaces, else what the user's umask gives a new
    file (``open`` does the same). A private temporary (``mkstemp``'s 0600) would leave every exported mask
    and saved result unreadable to the colleagues who share the folder."""
    suffix = format_suffix(path)
    stem = path.name[: len(path.name) - len(suffix)] if suffix else path.name
    while True:
        tmp = path.parent / f".{stem}.{secrets.token_hex(4)}.tmp{suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies
        except FileExistsError:
            continue
        os.close(fd)
        break
    with contextlib.suppress(OSError):  # no file to replace (or its permissions cannot be copied): the umask's
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
    return tmp


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to disk."""
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def fsync_folder(folder: Path) -> None:
    """Flush a folder's entries (a rename into it) to disk; a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Let ``write(temporary)`` write the file, then put it in place as ``path`` atomically; returns ``path``.

    For libraries that write files themselves (SimpleITK, pydicom, numpy, matplotlib). The folder must
    exist. Whatever ``write`` raises propagates, and its temporary is removed.
    """
    path = Path(path)
    tmp = temporary_for(path)
    try:
        write(tmp)
        fsync_file(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_folder(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``path`` atomically, creating its folder when needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: tmp.write_bytes(payload))
