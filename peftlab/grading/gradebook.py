"""Repair of a gradebook whose creation stopped half-way."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

# nbgrader's record of the gradebook's schema version (alembic's table).
_VERSION_TABLE = "alembic_version"


def finish_half_built(gradebook: Path) -> bool:
    """Record the schema version of a gradebook that nbgrader created without it.

    nbgrader creates the tables first, then asks ``alembic`` (run by name) for the version to
    record. When ``alembic`` was not found, the file keeps its tables but no version, and
    nbgrader, seeing tables, never records it again, so ``nbgrader db upgrade`` would re-run
    every migration on it. The tables are those of the installed nbgrader: its head version.

    Returns:
        Whether the gradebook needed it.
    """
    if not gradebook.is_file():
        return False
    with closing(sqlite3.connect(gradebook)) as db:
        query = "SELECT name FROM sqlite_master WHERE type = 'table'"
        tables = {name for (name,) in db.execute(query)}
        if not tables or _VERSION_TABLE in tables:
            return False
        from nbgrader.api import get_alembic_version

        version = get_alembic_version()
        with db:
            db.execute(f"CREATE TABLE {_VERSION_TABLE} (version_num VARCHAR(32) NOT NULL)")
            db.execute(f"INSERT INTO {_VERSION_TABLE} (version_num) VALUES (?)", (version,))
    return True
