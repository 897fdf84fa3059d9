"""Looking through what a user drops: open only regular files, and name what could not be read.

A named pipe, socket or device under a dropped folder would block ``open`` (napari would hang asking the
reader whether it can read the drop), so only regular files are ever opened. A folder that cannot be listed
or a file that cannot be opened is kept with its reason (permission denied, ...), so the reader can say so
instead of silently reading less: an unreadable CT folder must not turn into a PET-only study.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import StudyError


def is_regular(path: Path) -> bool:
    """True for a regular file (symbolic links followed); False for pipes, sockets, devices, folders."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def has_dicom_preamble(path: Path) -> bool:
    """True when a regular file has the 'DICM' marker after its 128-byte preamble (reads 132 bytes)."""
    if not is_regular(path):
        return False
    try:
        with open(path, "rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def reason(exc: OSError) -> str:
    """Short lower-case reason for an OSError ('permission denied', 'no such file or directory', ...)."""
    if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    text = exc.strerror or type(exc).__name__
    return text[:1].lower() + text[1:]


@dataclass
class Listing:
    """Regular files found under some folders, and what was left out (each with why)."""

    files: list[Path] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # (folder or file, reason)
    special: list[Path] = field(default_factory=list)  # pipes, sockets, devices: never opened

    def unreadable_text(self, limit: int = 3) -> str:
        shown = ", ".join(f"{p} ({why})" for p, why in self.unreadable[:limit])
        more = f" and {len(self.unreadable) - limit} more" if len(self.unreadable) > limit else ""
        return shown + more


def list_folder(folder: Path) -> list[Path]:
    """The entries of one folder, sorted; StudyError naming the folder when it cannot be listed."""
    try:
        with os.scandir(folder) as entries:
            return sorted(Path(e.path) for e in entries)
    except OSError as exc:
        raise StudyError(f"cannot read folder {folder}: {reason(exc)}; check its permissions") from exc


def walk_files(folder: Path, limit: int | None = None, skip_names: frozenset[str] = frozenset()) -> Listing:
    """Regular files under ``folder`` in sorted order (linked folders followed once), at most ``limit``."""
    listing = Listing()
    seen: set[tuple[int, int]] = set()
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            info = os.stat(current)
            with os.scandir(current) as iterator:
                entries = sorted(iterator, key=lambda e: e.name)
        except OSError as exc:
            listing.unreadable.append((current, reason(exc)))
            continue
        if (info.st_dev, info.st_ino) in seen:  # a link back up the tree
            continue
        seen.add((info.st_dev, info.st_ino))
        folders = []
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    folders.append(path)
                    continue
                mode = entry.stat().st_mode
            except OSError as exc:
                listing.unreadable.append((path, reason(exc)))
                continue
            if entry.name in skip_names:
                continue
            if not stat.S_ISREG(mode):
                listing.special.append(path)
                continue
            listing.files.append(path)
            if limit is not None and len(listing.files) >= limit:
                return listing
        pending.extend(reversed(folders))  # depth first, in name order
    return listing
