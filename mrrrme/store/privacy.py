"""Export, erasure and retention over every table with a user key (`schema.USER_TABLES`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from typing import Any

from sqlalchemy import delete, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from mrrrme.store.schema import (
    SECRET_COLUMNS,
    USER_TABLES,
    Base,
    Conversation,
    EmotionPoint,
    LoginSession,
    Message,
    Summary,
)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _row(obj: Base) -> dict[str, Any]:
    columns = inspect(type(obj)).columns
    return {c.key: _plain(getattr(obj, c.key)) for c in columns if c.key not in SECRET_COLUMNS}


async def export(db: AsyncSession, user_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row about the user, table by table, secrets (hashes) left out."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for name, model in USER_TABLES.items():
        key = model.id if name == "users" else model.user_id  # type: ignore[attr-defined]
        rows = await db.scalars(select(model).where(key == user_id).order_by(*inspect(model).primary_key))
        tables[name] = [_row(obj) for obj in rows.all()]
    return tables


def export_json(tables: dict[str, list[dict[str, Any]]], exported_at: dt.datetime) -> bytes:
    document = {"format": "mrrrme-export", "version": 1, "exported_at": exported_at.isoformat(), "tables": tables}
    return json.dumps(document, indent=2, ensure_ascii=False).encode()


def export_csv_zip(tables: dict[str, list[dict[str, Any]]]) -> bytes:
    """One CSV per table (header row even when empty), zipped: spreadsheets open each directly."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, rows in tables.items():
            model = USER_TABLES[name]
            fields = [c.key for c in inspect(model).columns if c.key not in SECRET_COLUMNS]
            text = io.StringIO()
            writer = csv.DictWriter(text, fieldnames=fields)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in row.items()})
            archive.writestr(f"{name}.csv", text.getvalue())
    return buffer.getvalue()


async def conversation_ids(db: AsyncSession, user_id: str) -> list[str]:
    rows = await db.scalars(select(Conversation.id).where(Conversation.user_id == user_id))
    return list(rows.all())


async def erase(db: AsyncSession, user_id: str) -> int:
    """Delete every row about the user; children first, so no database needs ON DELETE CASCADE to be on."""
    removed = 0
    for name, model in reversed(USER_TABLES.items()):
        key = model.id if name == "users" else model.user_id  # type: ignore[attr-defined]
        result = await db.execute(delete(model).where(key == user_id))
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


async def purge_older_than(db: AsyncSession, cutoff: dt.datetime, now: dt.datetime) -> dict[str, int]:
    """Retention: messages, timeline points and summaries older than `cutoff`, ended conversations left
    empty by that, and login sessions past their absolute expiry."""
    counts: dict[str, int] = {}
    for model in (Message, EmotionPoint, Summary):
        result = await db.execute(delete(model).where(model.created_at < cutoff))
        counts[model.__tablename__] = int(getattr(result, "rowcount", 0) or 0)
    has_messages = select(Message.id).where(Message.conversation_id == Conversation.id).exists()
    result = await db.execute(
        delete(Conversation)
        .where(Conversation.ended_at < cutoff, ~has_messages)
        .execution_options(synchronize_session=False)
    )
    counts["conversations"] = int(getattr(result, "rowcount", 0) or 0)
    result = await db.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    counts["login_sessions"] = int(getattr(result, "rowcount", 0) or 0)
    return counts
