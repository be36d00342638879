"""The gradebook's state: whether it holds the assignment yet, and repair of a half-built one.

The gradebook is an SQLAlchemy URL (:attr:`~peftlab.grading.names.CourseLayout.gradebook_url`):
an SQLite file under the course root by default, or a server (PostgreSQL) named by
``$PEFTLAB_GRADEBOOK_URL``. nbgrader itself creates the tables on first use.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from peftlab.grading.names import sqlite_file

# nbgrader's record of the gradebook's schema version (alembic's table).
_VERSION_TABLE = "alembic_version"


def finish_half_built(gradebook: Path | str) -> bool:
    """Record the schema version of a gradebook that nbgrader created without it.

    nbgrader creates the tables first, then asks ``alembic`` (run by name) for the version to
    record. When ``alembic`` was not found, the file keeps its tables but no version, and
    nbgrader, seeing tables, never records it again, so ``nbgrader db upgrade`` would re-run
    every migration on it. The tables are those of the installed nbgrader: its head version.

    Args:
        gradebook: the SQLite file, or a gradebook URL; a server gradebook is left alone (its
            tables and version are created in one go by the server's single writer).

    Returns:
        Whether the gradebook needed it.
    """
    path = sqlite_file(gradebook) if isinstance(gradebook, str) else gradebook
    if path is None or not path.is_file():
        return False
    with closing(sqlite3.connect(path)) as db:
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


def holds_assignment(url: str, assignment: str) -> bool:
    """Does the gradebook at ``url`` exist and know ``assignment`` (``generate`` ran)?

    Nothing is created: a missing SQLite file or a server database without nbgrader's tables
    answers False.
    """
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        return False  # connecting would create an empty file
    # SQLAlchemy is only paid for by the commands that grade.
    from sqlalchemy import create_engine, inspect, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            if not inspect(db).has_table("assignment"):
                return False
            query = text("SELECT 1 FROM assignment WHERE name = :name")
            return db.execute(query, {"name": assignment}).first() is not None
    finally:
        engine.dispose()
