"""The system of record, on SQLite and (when reachable) PostgreSQL, migrated from an empty database."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import sys
import zipfile
from collections.abc import AsyncIterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect, text

from mrrrme.contracts import EmotionReading, FusedEmotion, ModalityShare, TurnRecord, new_id
from mrrrme.store import Database, privacy, records
from mrrrme.store.schema import USER_TABLES, Base, LoginSession, User

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture()
async def db(database_url: str) -> AsyncIterator[Database]:
    async with Database(database_url) as database:
        await database.migrate()
        yield database


async def add_user(db: Database, name: str | None = None) -> str:
    user_id = new_id()
    async with db.session() as session:
        session.add(User(id=user_id, username=name or f"u{user_id[:8]}", password_hash="x", created_at=T0))
    return user_id


def fused(emotion: str = "Sad", masking: bool = False) -> FusedEmotion:
    reading = EmotionReading(emotion=emotion, confidence=0.7, probabilities=[0.1, 0.1, 0.7, 0.1])  # type: ignore[arg-type]
    return FusedEmotion(
        session_id="s",
        utterance_id="u",
        emotion=emotion,  # type: ignore[arg-type]
        intensity=0.6,
        probabilities=[0.1, 0.1, 0.7, 0.1],
        face=ModalityShare(reading=reading, weight=0.4, quality=0.8),
        voice=ModalityShare(reading=reading, weight=0.3),
        text=None,
        masking=masking,
    )


def record(sid: str, turn_id: str, at: dt.datetime, emotion: str = "Sad") -> TurnRecord:
    return TurnRecord(
        session_id=sid,
        turn_id=turn_id,
        user_text="I feel low today",
        fused=fused(emotion),
        reply="That sounds heavy.",
        reply_emotion="Sad",
        ts=at.timestamp(),
    )


async def conversation(db: Database, user_id: str, at: dt.datetime = T0) -> str:
    sid = new_id()
    async with db.session() as session:
        await records.start_conversation(session, sid, user_id, at)
    return sid


async def test_migrations_from_empty_database_match_the_models(db: Database) -> None:
    def diff(conn: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    assert version == "0001"
    await db.migrate()  # a second run (another replica starting) is a no-op


async def test_a_redelivered_turn_is_stored_once(db: Database) -> None:
    user = await add_user(db)
    sid = await conversation(db, user)
    turn = record(sid, "turn-1", T0)
    for _ in range(3):
        async with db.session() as session:
            assert await records.store_turn(session, turn)
    async with db.session() as session:
        rows = await records.history(session, user, 50, None, None)
        points = await records.timeline(session, user, None, 10)
    assert [(m.role, m.text) for m in rows] == [("assistant", "That sounds heavy."), ("user", "I feel low today")]
    user_row = rows[1]
    assert user_row.emotion == "Sad" and user_row.breakdown is not None
    assert user_row.breakdown["modalities"]["face"]["quality"] == 0.8
    assert len(points) == 1 and points[0].face == "Sad" and points[0].text is None


async def test_a_turn_of_an_unknown_session_is_not_stored(db: Database) -> None:
    async with db.session() as session:
        assert not await records.store_turn(session, record("nobody", "t", T0))


async def test_history_pages_and_stats(db: Database) -> None:
    user = await add_user(db)
    first, second = await conversation(db, user), await conversation(db, user)
    emotions = ["Sad", "Sad", "Happy", "Angry", "Sad"]
    async with db.session() as session:
        for i, emotion in enumerate(emotions):
            sid = first if i < 3 else second
            await records.store_turn(session, record(sid, f"t{i}", T0 + dt.timedelta(minutes=i), emotion))
    seen: list[int] = []
    before = None
    async with db.session() as session:
        while True:
            page = await records.history(session, user, 3, before, None)
            seen += [m.id for m in page]
            if len(page) < 3:
                break
            before = page[-1].id
        overall, per = await records.stats(session, user)
    assert len(seen) == 10 and seen == sorted(seen, reverse=True)
    assert overall.turns == 5 and overall.emotions == {"Neutral": 0, "Happy": 1, "Sad": 3, "Angry": 1}
    assert overall.average_intensity == pytest.approx(0.6)
    assert per[first].turns == 3 and per[second].emotions["Angry"] == 1


async def test_the_newest_consent_decision_is_in_force(db: Database) -> None:
    user = await add_user(db)
    async with db.session() as session:
        assert await records.current_consent(session, user) == {"camera": False, "microphone": False}
        await records.record_consent(session, user, {"camera": True, "microphone": True}, T0)
        await records.record_consent(session, user, {"camera": False, "microphone": True}, T0 + dt.timedelta(1))
    async with db.session() as session:
        assert await records.current_consent(session, user) == {"camera": False, "microphone": True}


async def tables_with_user_key(db: Database) -> set[str]:
    """By reflection of the live database: every table with a user_id column or a foreign key to users."""

    def reflect(conn: Connection) -> set[str]:
        inspector = inspect(conn)
        found = set()
        for table in inspector.get_table_names():
            columns = {c["name"] for c in inspector.get_columns(table)}
            keys = inspector.get_foreign_keys(table)
            if "user_id" in columns or any(k["referred_table"] == "users" for k in keys):
                found.add(table)
        return found

    async with db.engine.connect() as conn:
        return await conn.run_sync(reflect) | {"users"}


async def fill_user(db: Database) -> tuple[str, str]:
    user = await add_user(db)
    sid = await conversation(db, user)
    async with db.session() as session:
        await records.store_turn(session, record(sid, new_id(), T0))
        await records.store_summary(session, user, sid, "They talked about work.", T0)
        await records.record_consent(session, user, {"camera": True, "microphone": False}, T0)
        session.add(
            LoginSession(id=new_id(), user_id=user, token_hash=new_id() * 2, created_at=T0, last_seen_at=T0,
                         expires_at=T0 + dt.timedelta(days=1))
        )  # fmt: skip
    return user, sid


async def test_export_covers_every_table_with_a_user_key(db: Database) -> None:
    user, _ = await fill_user(db)
    async with db.session() as session:
        tables = await privacy.export(session, user)
    assert await tables_with_user_key(db) <= set(tables), "a table with user data is missing from the export"
    for name in ("users", "conversations", "messages", "emotion_timeline", "summaries", "consent_records"):
        assert tables[name], f"{name} exported empty"
    assert "password_hash" not in tables["users"][0]
    document = json.loads(privacy.export_json(tables, T0))
    assert document["tables"]["messages"][0]["text"] in ("I feel low today", "That sounds heavy.")
    archive = zipfile.ZipFile(io.BytesIO(privacy.export_csv_zip(tables)))
    assert set(archive.namelist()) == {f"{name}.csv" for name in tables}
    messages = list(csv.DictReader(io.StringIO(archive.read("messages.csv").decode())))
    by_role = {m["role"]: m for m in messages}
    assert len(messages) == 2 and json.loads(by_role["user"]["breakdown"])["masking"] is False


def test_every_model_table_is_in_the_user_tables_map() -> None:
    declared = {t.name for t in Base.metadata.sorted_tables if "user_id" in t.c or t.name == "users"}
    assert declared == set(USER_TABLES)


async def count_user_rows(db: Database, user: str) -> dict[str, int]:
    counts = {}
    async with db.engine.connect() as conn:
        for table in await tables_with_user_key(db):
            column = "id" if table == "users" else "user_id"
            query = text(f"SELECT count(*) FROM {table} WHERE {column} = :u")
            counts[table] = (await conn.execute(query, {"u": user})).scalar_one()
    return counts


async def test_erasure_leaves_no_row_of_the_user_and_keeps_others(db: Database) -> None:
    user, sid = await fill_user(db)
    other, _ = await fill_user(db)
    async with db.session() as session:
        assert await privacy.conversation_ids(session, user) == [sid]
        assert await privacy.erase(session, user) > 0
    assert set((await count_user_rows(db, user)).values()) == {0}
    assert all(n > 0 for n in (await count_user_rows(db, other)).values())


async def test_retention_deletes_only_what_is_older_than_the_window(db: Database) -> None:
    user = await add_user(db)
    old_sid, new_sid = await conversation(db, user, T0), await conversation(db, user, T0 + dt.timedelta(days=40))
    async with db.session() as session:
        await records.store_turn(session, record(old_sid, "old", T0))
        await records.store_turn(session, record(new_sid, "new", T0 + dt.timedelta(days=40)))
        await records.end_conversation(session, old_sid, T0 + dt.timedelta(minutes=5))
    frozen_now = T0 + dt.timedelta(days=45)
    async with db.session() as session:
        removed = await privacy.purge_older_than(session, frozen_now - dt.timedelta(days=30), frozen_now)
    assert removed["messages"] == 2 and removed["emotion_timeline"] == 1 and removed["conversations"] == 1
    async with db.session() as session:
        left = await records.history(session, user, 50, None, None)
        assert {m.turn_id for m in left} == {"new"}
        assert await privacy.conversation_ids(session, user) == [new_sid]


async def test_migrations_started_by_several_processes_at_once_all_succeed(database_url: str) -> None:
    script = "import asyncio, sys; from mrrrme.store import Database; asyncio.run(Database(sys.argv[1]).migrate())"
    processes = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, database_url, stderr=asyncio.subprocess.PIPE)
        for _ in range(3)
    ]
    for process in processes:
        _, stderr = await process.communicate()
        assert process.returncode == 0, stderr.decode()
    databases = [Database(database_url)]
    try:
        async with databases[0].engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM alembic_version"))).scalar_one() == 1
    finally:
        for d in databases:
            await d.aclose()
