"""The review database: one SQLite file in the dataset folder, WAL mode, nothing to start.

Tables:

- ``items``: one row per imported dataset item (a sentence with its weak mask reference, candidates, flags).
  Re-importing updates these rows in place; they describe the input, not anybody's work.
- ``decisions``: append-only (triggers refuse UPDATE and DELETE). An item's current state is its latest
  decision; earlier ones stay as its history. ``items.cur_*`` caches the latest decision's id, action and
  time, written in the same transaction as the decision (``record_decision``) and rebuilt on every import,
  so finding the next pending item stays an indexed lookup at cohort scale.
- ``leases``: who is looking at which item until when. Claims and decisions run in ``BEGIN IMMEDIATE``
  transactions, so two processes never both see an item as free.

``synchronous=FULL`` makes every committed decision survive a crash or a power cut, at one fsync per decision.

Every decision and item row carries ``row_sum``, a checksum of its columns written with the row, so bytes that
changed on disk are refused when the queue opens instead of being read as somebody's decision (integrity.py).
A new database is built under a temporary name and linked into place, so a ``review.sqlite`` of 0 bytes is
never one of ours: it is a truncated file, and refused as such.
"""

from __future__ import annotations

import hashlib
import math
import os
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ReviewError
from . import integrity

DB_NAME = "review.sqlite"
MASK_DIR = "review_masks"
SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 30.0

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    case_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    position INTEGER NOT NULL,
    sentence TEXT NOT NULL,
    finding TEXT NOT NULL DEFAULT '{}',
    weak_status TEXT NOT NULL,
    label INTEGER,
    tracer TEXT NOT NULL DEFAULT '',
    candidates TEXT NOT NULL DEFAULT '[]',
    n_candidates INTEGER NOT NULL DEFAULT 0,
    flags TEXT NOT NULL DEFAULT '[]',
    review_flags TEXT NOT NULL DEFAULT '[]',
    reason TEXT NOT NULL DEFAULT '',
    source_hash TEXT NOT NULL,
    imported_at REAL NOT NULL,
    cur_id INTEGER,
    cur_action TEXT,
    cur_at REAL,
    row_sum TEXT
);
CREATE INDEX IF NOT EXISTS items_position ON items(position);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id TEXT NOT NULL REFERENCES items(item_id),
    action TEXT NOT NULL CHECK (action IN ('accept', 'fix', 'choose', 'reject', 'skip', 'reopen')),
    annotator TEXT NOT NULL,
    at REAL NOT NULL,
    outcome TEXT NOT NULL DEFAULT '',
    candidate INTEGER,
    mask_path TEXT,
    mask_sha256 TEXT,
    mask_voxels INTEGER,
    dice REAL,
    reason TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    row_sum TEXT
);
CREATE INDEX IF NOT EXISTS decisions_item ON decisions(item_id, id);
CREATE INDEX IF NOT EXISTS decisions_annotator ON decisions(annotator, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'review decisions are append-only'); END;
CREATE TABLE IF NOT EXISTS leases (
    item_id TEXT PRIMARY KEY REFERENCES items(item_id),
    annotator TEXT NOT NULL,
    token TEXT NOT NULL,
    claimed_at REAL NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS leases_annotator ON leases(annotator);
"""


# the columns a row's checksum covers, in order (items: not the current-decision cache, checked apart)
DECISION_SUM = ("id", "item_id", "action", "annotator", "at", "outcome", "candidate", "mask_path", "mask_sha256",
                "mask_voxels", "dice", "reason", "note")
ITEM_SUM = ("item_id", "case_id", "idx", "position", "sentence", "finding", "weak_status", "label", "tracer",
            "candidates", "n_candidates", "flags", "review_flags", "reason", "source_hash", "imported_at")
SUM_FUNCTION = "petground_row_sum"
_DECISION_DEFAULTS = {"outcome": "", "reason": "", "note": ""}
_DECISION_KINDS = {"id": int, "at": float, "candidate": int, "mask_voxels": int, "dice": float}


def db_path(dataset_root: str | Path) -> Path:
    return Path(dataset_root) / DB_NAME


def row_sum(*values: object) -> str:
    """Checksum of one row's values as SQLite returns them (int, float, str, bytes or None)."""
    return hashlib.blake2b(repr(values).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def sum_sql(columns: tuple[str, ...]) -> str:
    """The SQL expression that recomputes a row's checksum (needs the function connect() registers)."""
    return f"{SUM_FUNCTION}({', '.join(columns)})"


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating when needed) the review database: checked, WAL, full sync, the schema in place."""
    if not path.parent.is_dir():
        raise ReviewError(f"dataset folder not found: {path.parent}")
    if not path.exists():
        _create(path)
    integrity.check_file(path)
    conn = None
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_S,
                               isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.create_function(SUM_FUNCTION, -1, row_sum, deterministic=True)
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        integrity.check_structure(conn, path)
        with transaction(conn):
            _prepare(conn, path)
        integrity.check_rows(conn, path)
        if integrity.stale_cache(conn):  # only a cache: rebuilt from the (checked) decisions
            with transaction(conn):
                rebuild_current(conn)
    except BaseException as exc:
        if conn is not None:
            conn.close()
        problem = integrity.opening_problem(path, exc)
        if problem is None:
            raise
        raise problem from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise ReviewError(f"{path}: the file system does not support SQLite WAL mode (got {mode}); "
                          "put the dataset on a local disk")
    return conn


def _create(path: Path) -> None:
    """A new, empty queue: built under a temporary name, then linked into place (never over a file)."""
    temporary = path.with_name(f".{path.name}.new-{secrets.token_hex(4)}")
    try:
        conn = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            conn.create_function(SUM_FUNCTION, -1, row_sum, deterministic=True)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            with transaction(conn):
                for statement in _statements(SCHEMA):
                    conn.execute(statement)
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        finally:
            conn.close()
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
        except OSError:  # no hard links on this file system
            if not path.exists():
                os.replace(temporary, path)
    except (OSError, sqlite3.DatabaseError) as exc:
        raise ReviewError(f"cannot create the review database {path}: {exc}; the dataset folder must be "
                          "writable") from exc
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)


def _prepare(conn: sqlite3.Connection, path: Path) -> None:
    """Inside a transaction: refuse a foreign or unknown schema, bring an older queue up to date."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "meta" not in tables or "decisions" not in tables:
        raise integrity.not_a_queue(path, tables)
    integrity.check_version(conn, path, SCHEMA_VERSION)
    stored = integrity.check_schema(conn, path)
    for statement in _statements(SCHEMA):
        conn.execute(statement)
    columns = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
    if "cur_id" not in columns:  # a queue made before the current-state cache existed
        for column in ("cur_id INTEGER", "cur_action TEXT", "cur_at REAL"):
            conn.execute(f"ALTER TABLE items ADD COLUMN {column}")
        rebuild_current(conn)
    if "row_sum" not in columns:  # a queue made before row checksums: its rows were checked just now
        conn.execute("ALTER TABLE items ADD COLUMN row_sum TEXT")
        conn.execute(f"UPDATE items SET row_sum = {sum_sql(ITEM_SUM)}")
    if "row_sum" not in {r[1] for r in conn.execute("PRAGMA table_info(decisions)")}:
        conn.execute("ALTER TABLE decisions ADD COLUMN row_sum TEXT")
        conn.execute("DROP TRIGGER decisions_no_update")  # the only UPDATE ever made to decisions
        conn.execute(f"UPDATE decisions SET row_sum = {sum_sql(DECISION_SUM)}")
        conn.execute(next(x for x in _statements(SCHEMA) if "TRIGGER IF NOT EXISTS decisions_no_update" in x))
    conn.execute("CREATE INDEX IF NOT EXISTS items_current ON items(cur_action, position)")
    current = integrity.schema_sum(conn)
    if current != stored:  # new, or brought up to date just now: remember the table definitions
        conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema_sum', ?)", (current,))


def _statements(script: str) -> list[str]:
    """Split the schema into statements (triggers contain ';' inside BEGIN ... END)."""
    out, buf = [], []
    for line in script.strip().splitlines():
        buf.append(line)
        joined = "\n".join(buf).strip()
        if joined.endswith(";") and sqlite3.complete_statement(joined):
            out.append(joined)
            buf = []
    return out


@contextmanager
def transaction(conn: sqlite3.Connection, immediate: bool = True) -> Iterator[sqlite3.Connection]:
    """One transaction; IMMEDIATE takes the write lock up front so read-then-write decisions cannot race."""
    try:
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    except sqlite3.DatabaseError as exc:
        if not integrity.is_environmental(exc):
            raise
        raise integrity.write_refusal(conn, exc) from exc
    try:
        yield conn
    except BaseException as exc:
        _roll_back(conn)
        if isinstance(exc, sqlite3.DatabaseError) and integrity.is_environmental(exc):
            raise integrity.write_refusal(conn, exc) from exc
        raise
    else:
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _roll_back(conn)
            if not integrity.is_environmental(exc):
                raise
            raise integrity.write_refusal(conn, exc) from exc


def _roll_back(conn: sqlite3.Connection) -> None:
    """Undo the open transaction; a rollback that fails too (a dying disk) must not hide the first error."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    except sqlite3.Error:
        pass


def record_decision(conn: sqlite3.Connection, item_id: str, action: str, annotator: str, at: float,
                    **fields) -> int:
    """Inside a transaction: append a decision (with its checksum) and point the item's cache at it."""
    unknown = set(fields) - set(DECISION_SUM)
    if unknown:
        raise ValueError(f"unknown decision fields {sorted(unknown)}")
    row_id = conn.execute(
        "SELECT MAX(COALESCE((SELECT MAX(id) FROM decisions), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'decisions'), 0)) + 1").fetchone()[0]
    given = {**_DECISION_DEFAULTS, **fields, "id": row_id, "item_id": item_id, "action": action,
             "annotator": annotator, "at": at}
    values = [_stored(column, given.get(column)) for column in DECISION_SUM]
    columns = [*DECISION_SUM, "row_sum"]
    conn.execute(f"INSERT INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                 [*values, row_sum(*values)])
    conn.execute("UPDATE items SET cur_id = ?, cur_action = ?, cur_at = ? WHERE item_id = ?",
                 (row_id, action, values[DECISION_SUM.index("at")], item_id))
    return int(row_id)


def _stored(column: str, value: object) -> object:
    """``value`` as SQLite will hand it back, so the checksum written now matches the one read later."""
    if value is None:
        return None
    kind = _DECISION_KINDS.get(column, str)
    if kind is float:
        value = float(value)
        return None if math.isnan(value) else (0.0 if value == 0 else value)  # NaN is stored as NULL, -0.0 as 0
    return kind(value)


def refresh_item_sum(conn: sqlite3.Connection, item_id: str) -> None:
    """Inside a transaction: recompute one item's checksum after its row was written."""
    conn.execute(f"UPDATE items SET row_sum = {sum_sql(ITEM_SUM)} WHERE item_id = ?", (item_id,))


def rebuild_current(conn: sqlite3.Connection) -> None:
    """Inside a transaction: recompute every item's current-state cache from the decisions table."""
    conn.execute(
        "UPDATE items SET cur_id = (SELECT MAX(d.id) FROM decisions d WHERE d.item_id = items.item_id)")
    conn.execute(
        "UPDATE items SET cur_action = (SELECT d.action FROM decisions d WHERE d.id = items.cur_id), "
        "cur_at = (SELECT d.at FROM decisions d WHERE d.id = items.cur_id)")
