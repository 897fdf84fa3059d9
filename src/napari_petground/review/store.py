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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import ReviewError

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
    cur_at REAL
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
    note TEXT NOT NULL DEFAULT ''
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


def db_path(dataset_root: str | Path) -> Path:
    return Path(dataset_root) / DB_NAME


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating when needed) the review database with WAL, full sync and the schema in place."""
    if not path.parent.is_dir():
        raise ReviewError(f"dataset folder not found: {path.parent}")
    try:
        conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA foreign_keys=ON")
        with transaction(conn):
            for statement in _statements(SCHEMA):
                conn.execute(statement)
            columns = {r[1] for r in conn.execute("PRAGMA table_info(items)")}
            if "cur_id" not in columns:  # a queue made before the current-state cache existed
                for column in ("cur_id INTEGER", "cur_action TEXT", "cur_at REAL"):
                    conn.execute(f"ALTER TABLE items ADD COLUMN {column}")
                rebuild_current(conn)
            conn.execute("CREATE INDEX IF NOT EXISTS items_current ON items(cur_action, position)")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            if row is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) > SCHEMA_VERSION:
                raise ReviewError(f"{path} was written by a newer napari-petground (schema {row[0]}); "
                                  "update the package")
    except sqlite3.DatabaseError as exc:
        raise ReviewError(f"cannot open the review database {path}: {exc}; if the file is damaged, move it "
                          f"away and run `petground review import` (decisions are lost only with the file)") from exc
    if str(mode).lower() != "wal":
        conn.close()
        raise ReviewError(f"{path}: the file system does not support SQLite WAL mode (got {mode}); "
                          "put the dataset on a local disk")
    return conn


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
    conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def record_decision(conn: sqlite3.Connection, item_id: str, action: str, annotator: str, at: float,
                    **fields) -> int:
    """Inside a transaction: append a decision and point the item's current-state cache at it."""
    columns = ["item_id", "action", "annotator", "at", *fields]
    values = [item_id, action, annotator, at, *fields.values()]
    cur = conn.execute(f"INSERT INTO decisions ({', '.join(columns)}) VALUES ({', '.join('?' * len(values))})",
                       values)
    conn.execute("UPDATE items SET cur_id = ?, cur_action = ?, cur_at = ? WHERE item_id = ?",
                 (cur.lastrowid, action, at, item_id))
    return int(cur.lastrowid)


def rebuild_current(conn: sqlite3.Connection) -> None:
    """Inside a transaction: recompute every item's current-state cache from the decisions table."""
    conn.execute(
        "UPDATE items SET cur_id = (SELECT MAX(d.id) FROM decisions d WHERE d.item_id = items.item_id)")
    conn.execute(
        "UPDATE items SET cur_action = (SELECT d.action FROM decisions d WHERE d.id = items.cur_id), "
        "cur_at = (SELECT d.at FROM decisions d WHERE d.id = items.cur_id)")
