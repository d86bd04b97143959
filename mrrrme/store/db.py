"""One `Database` per process: an async engine for the configured URL, migrations, and sessions."""

from __future__ import annotations

import fcntl
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

log = logging.getLogger("mrrrme.store")
MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """The async driver for a plain URL: `sqlite:///x.db` -> aiosqlite, `postgresql://` -> asyncpg."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg", "postgres": "postgresql+asyncpg"}
    if parsed.drivername in driver:
        parsed = parsed.set(drivername=driver[parsed.drivername])
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # SQLite enforces foreign keys (and so ON DELETE CASCADE) only when asked, per connection.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    def __init__(self, url: str) -> None:
        self.url = async_url(url)
        parsed = make_url(self.url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._sqlite_path: Path | None = None
        if self.is_sqlite and parsed.database and parsed.database != ":memory:":
            self._sqlite_path = Path(parsed.database)
            self._sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=not self.is_sqlite)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessions() as session, session.begin():
            yield session

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision. Safe when several processes start at once
        (gateway and memory under `make run`): one migrates while the others wait, then find nothing to
        do. PostgreSQL serialises them with an advisory lock; SQLite (one machine) with a lock file."""
        if self.is_sqlite and self._sqlite_path is not None:
            with _file_lock(self._sqlite_path.with_name(self._sqlite_path.name + ".migrate-lock")):
                await self._upgrade()
        else:
            await self._upgrade()
        log.info("database %s at the newest schema", make_url(self.url).render_as_string(hide_password=True))

    async def _upgrade(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(_upgrade)

    async def aclose(self) -> None:
        await self.engine.dispose()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        # Blocking in the event loop is fine here: it happens once, at start-up, before serving.
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def alembic_config(connection: Connection | None = None) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7245613)")  # one migrator at a time

    command.upgrade(alembic_config(connection), "head")
