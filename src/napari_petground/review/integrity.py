"""Opening the review database safely: a damaged, emptied, foreign or read-only file is refused with advice
that never costs a decision.

The checks when a queue opens, cheapest first:

- the file itself: 0 bytes (a truncated copy, a full disk) or not SQLite at all is refused, never taken for
  a new, empty queue (store.py builds a new queue under a temporary name, so an empty file is never ours);
- write access to the file and its folder (SQLite in WAL mode needs both);
- ``PRAGMA integrity_check``: pages, b-trees and indexes agree (a damaged page otherwise reads as missing
  rows: an export of nothing, or two different totals from two queries);
- the schema version is one this package knows, and the table definitions match their recorded checksum;
- every decision and item row matches the checksum written with it (``row_sum``), so changed bytes are never
  read as somebody's decision;
- the items' current-decision cache agrees with the decisions table (store.connect rebuilds it otherwise).

The advice never says "move it away and start again" while the file may still hold decisions.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import ReviewError

SQLITE_HEADER = b"SQLite format 3\x00"
_DAMAGE_CODES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_ENVIRONMENT_CODES = ("SQLITE_READONLY", "SQLITE_FULL", "SQLITE_IOERR", "SQLITE_CORRUPT", "SQLITE_NOTADB",
                      "SQLITE_BUSY", "SQLITE_LOCKED", "SQLITE_CANTOPEN", "SQLITE_PERM")
_DAMAGE_WORDS = ("malformed", "not a database", "could not decode", "user-defined function raised")


class WriteRefused(ReviewError):
    """The open database refused a write (read-only, disk full, damaged, locked); nothing was recorded."""


def _keep(path: Path) -> str:
    return (f"Keep the file: it may still hold decisions. Close every program using the dataset, copy "
            f"{path.name} (and {path.name}-wal if there is one) aside, then restore {path.name} from a backup, or "
            f"salvage the copy with the sqlite3 tool (`sqlite3 copy.sqlite .recover | sqlite3 recovered.sqlite`, "
            f"or `.dump` where `.recover` fails) and put recovered.sqlite in its place (if rows themselves "
            f"changed, the salvaged file is refused too and only a backup brings them back). "
            "Start a new queue (delete the file, run `petground review import`) only if nobody has reviewed "
            "this dataset yet")


def damaged(path: Path, detail: str) -> ReviewError:
    return ReviewError(f"the review database {path} is damaged ({detail}). {_keep(path)}")


def read_only(path: Path, why: str) -> ReviewError:
    return ReviewError(
        f"the review database {path} cannot be written ({why}): every decision is recorded in it, so the review "
        f"needs write access to the file and to its folder. Nothing is lost: the decisions made so far are in "
        f"the file. Make both writable (e.g. `chmod u+w {path} {path.parent}`), or copy the whole dataset "
        f"folder, {path.name} and any {path.name}-wal included, to a writable disk and open the copy. Do not "
        f"delete or replace {path.name}")


def not_a_queue(path: Path, tables: set[str]) -> ReviewError:
    what = f"tables {', '.join(sorted(tables))}" if tables else "no tables"
    return ReviewError(f"{path} is an SQLite file but not a review queue ({what}). {_keep(path)}")


def check_file(path: Path) -> None:
    """Refuse an emptied, foreign or unwritable file before SQLite touches it."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ReviewError(f"cannot read the review database {path}: {exc.strerror or exc}; check that the "
                          "dataset folder is readable (nothing was changed)") from exc
    if size == 0:
        raise ReviewError(
            f"the review database {path} is empty (0 bytes): the file was cut short (an interrupted copy, a full "
            f"disk?) and no longer holds the queue. Restore {path.name} from a backup if anybody reviewed this "
            f"dataset; if nobody did, delete the empty file and run `petground review import` to start the queue")
    if head != SQLITE_HEADER:
        raise ReviewError(f"{path} is not an SQLite database (it starts with {head[:16]!r}): it was overwritten "
                          f"or is another file. {_keep(path)}")
    for target in (path, path.parent):
        if not os.access(target, os.W_OK):
            raise read_only(path, f"{'the folder' if target == path.parent else 'the file'} is read-only")


def check_structure(conn: sqlite3.Connection, path: Path) -> None:
    """``PRAGMA integrity_check``: every page, b-tree and index agrees (a read transaction, no writes)."""
    problems = [str(r[0]) for r in conn.execute("PRAGMA integrity_check(5)")]
    if problems != ["ok"]:
        detail = " ".join(" ".join(problems).split())
        raise damaged(path, detail[:300])


def check_version(conn: sqlite3.Connection, path: Path, current: int) -> None:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    if row is None:
        raise damaged(path, "its schema version is missing")
    try:
        version = int(str(row[0]).strip())
    except ValueError:
        raise damaged(path, f"schema version {str(row[0])[:40]!r} is not one napari-petground writes") from None
    if version > current:
        raise ReviewError(f"{path} was written by a newer napari-petground (schema {version}); update the package "
                          "to open it (the file is left as it is)")
    if version < 1:
        raise damaged(path, f"schema version {version} is not one napari-petground writes")


def schema_sum(conn: sqlite3.Connection) -> str:
    """Checksum of every table, index and trigger definition (changed text there changes what is enforced)."""
    from .store import row_sum

    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    return row_sum(*(tuple(r) for r in rows))


def check_schema(conn: sqlite3.Connection, path: Path) -> str | None:
    """The recorded schema checksum (None for a queue older than it); damaged when the definitions differ."""
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_sum'").fetchone()
    if row is not None and row[0] != schema_sum(conn):
        raise damaged(path, "its table definitions changed on disk")
    return None if row is None else row[0]


def check_rows(conn: sqlite3.Connection, path: Path) -> None:
    """Every decision and item row still matches the checksum written with it."""
    from .store import DECISION_SUM, ITEM_SUM, sum_sql

    for table, key, columns in (("decisions", "id", DECISION_SUM), ("items", "item_id", ITEM_SUM)):
        try:
            bad = [r[0] for r in conn.execute(
                f"SELECT {key} FROM {table} WHERE row_sum IS NOT {sum_sql(columns)} LIMIT 3")]
        except (sqlite3.OperationalError, UnicodeDecodeError) as exc:  # text that no longer decodes
            raise damaged(path, f"rows of table {table} are no longer readable") from exc
        if bad:
            raise damaged(path, f"rows of table {table} changed on disk, e.g. {key} {bad[0]!r}")


def stale_cache(conn: sqlite3.Connection) -> int:
    """Items whose cached current decision is not the latest row of the decisions table."""
    return conn.execute(
        "SELECT COUNT(*) FROM items i WHERE i.cur_id IS NOT (SELECT MAX(d.id) FROM decisions d "
        "WHERE d.item_id = i.item_id) OR i.cur_action IS NOT (SELECT d.action FROM decisions d "
        "WHERE d.id = i.cur_id) OR i.cur_at IS NOT (SELECT d.at FROM decisions d WHERE d.id = i.cur_id)"
    ).fetchone()[0]


def _code(exc: sqlite3.Error) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def is_environmental(exc: sqlite3.Error) -> bool:
    """An error of the file or the disk (not of the program): the user can act on it."""
    return _code(exc).startswith(_ENVIRONMENT_CODES) or any(w in str(exc).lower() for w in _DAMAGE_WORDS)


def refusal(path: Path, exc: sqlite3.Error) -> ReviewError:
    """What to tell the user when SQLite itself refuses to open ``path``."""
    code, text = _code(exc), str(exc)
    if code.startswith("SQLITE_READONLY") or "readonly" in text:
        return read_only(path, text)
    if code.startswith(_DAMAGE_CODES) or any(w in text.lower() for w in _DAMAGE_WORDS):
        return damaged(path, text)
    if code.startswith("SQLITE_FULL"):
        return ReviewError(f"the disk holding {path} is full; free some space and open the review again "
                           "(nothing was changed)")
    if code.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return ReviewError(f"{path} is locked by another program for too long; close it or try again")
    return ReviewError(f"cannot open the review database {path}: {text}. The file was left as it is; check "
                       "permissions and free disk space, then try again")


def opening_problem(path: Path, exc: BaseException) -> ReviewError | None:
    """The message for an error met while opening ``path``; None for errors that are not the file's."""
    if isinstance(exc, WriteRefused) and isinstance(exc.__cause__, sqlite3.Error):
        return refusal(path, exc.__cause__)
    if isinstance(exc, sqlite3.DatabaseError):
        return refusal(path, exc)
    if isinstance(exc, UnicodeDecodeError):  # SQLite's own message quotes the damaged bytes
        return damaged(path, "its schema is no longer readable text")
    return None


def write_refusal(conn: sqlite3.Connection, exc: sqlite3.Error) -> WriteRefused:
    """What to tell the user when a write to the open database fails: nothing of this action was recorded."""
    try:
        path = Path(conn.execute("PRAGMA database_list").fetchone()[2])
    except sqlite3.Error:
        path = Path("review.sqlite")
    base = refusal(path, exc)
    return WriteRefused(f"nothing of this action was recorded: {base}")
