"""The memory worker: the mesh's only writer of conversation data to the database.

- Finished turns (`TurnRecord`, from dialogue) become a user message, an assistant message and a point on
  the emotion timeline. Records arrive on a durable work queue and are written with ON CONFLICT DO
  NOTHING on (turn, role): a redelivered record is acknowledged without a second row.
- A session's end (`SessionEnded`, from the gateway) closes its conversation and asks dialogue for the
  person's updated summary, which the next session's prompts get as data.
- Retention: every `retention_check_s` it deletes what is older than `retention_days`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from typing import Any

import nats.errors

from mrrrme import subjects
from mrrrme.contracts import SessionEnded, SummaryReply, SummaryRequest, TurnRecord, decode, encode
from mrrrme.runtime import Context, RetryLater, Service
from mrrrme.runtime.model_worker import run_main
from mrrrme.store import Database, privacy, records
from services.memory.settings import MemorySettings

log = logging.getLogger("services.memory")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def purge(db: Database, retention_days: float, now: dt.datetime) -> dict[str, int]:
    """Delete what is older than the retention window; nothing when retention is 0 (keep forever)."""
    if retention_days <= 0:
        return {}
    async with db.session() as session:
        return await privacy.purge_older_than(session, now - dt.timedelta(days=retention_days), now)


def build(settings: MemorySettings) -> Service:
    service = Service("memory", settings, backend="sql")
    state: dict[str, Any] = {}

    @service.on_startup
    async def connect() -> None:
        db = Database(settings.database_url)
        if settings.migrate_on_start:
            await db.migrate()
        state["db"] = db
        state["retention"] = asyncio.create_task(retention_loop(db), name="retention")

    @service.on_shutdown
    async def disconnect() -> None:
        if "retention" in state:
            state["retention"].cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await state["retention"]
        if "db" in state:
            await state["db"].aclose()

    async def retention_loop(db: Database) -> None:
        while True:
            try:
                removed = await purge(db, settings.retention_days, utcnow())
                if any(removed.values()):
                    log.info("memory: retention purge removed %s", removed)
            except Exception:
                log.exception("memory: retention purge failed; next try in %.0f s", settings.retention_check_s)
            await asyncio.sleep(settings.retention_check_s)

    @service.consume_durable(
        subjects.RECORD_STREAM, subjects.ALL_TURN_RECORDS, schema=TurnRecord, durable="memory-turns", concurrency=4
    )
    async def on_turn(record: TurnRecord, ctx: Context) -> None:
        db: Database = state["db"]
        async with db.session() as session:
            stored = await records.store_turn(session, record)
        if not stored:
            log.info("memory: turn of an unknown session (never opened here, or erased): not stored")

    @service.consume_durable(
        subjects.RECORD_STREAM,
        subjects.ALL_SESSION_ENDS,
        schema=SessionEnded,
        durable="memory-ends",
        concurrency=2,
        ack_wait_s=settings.summary_timeout_s * 2,
    )
    async def on_session_end(end: SessionEnded, ctx: Context) -> None:
        db: Database = state["db"]
        async with db.session() as session:
            conversation = await records.end_conversation(session, end.session_id, records.utc(end.ts))
            if conversation is None:
                return
            user_id = conversation.user_id
            lines = await records.conversation_lines(session, end.session_id, settings.summary_lines)
            previous = await records.latest_summary(session, user_id)
        if not any(m.role == "user" for m in lines):
            return  # nothing was said: the earlier summary stays the latest
        request = SummaryRequest(
            session_id=end.session_id,
            previous=previous,
            lines=[(m.role, m.text) for m in lines if m.role in ("user", "assistant")],  # type: ignore[misc]
            emotions=[m.emotion for m in lines if m.role == "user" and m.emotion],  # type: ignore[misc]
            masked=sum(1 for m in lines if m.role == "user" and (m.breakdown or {}).get("masking")),
        )
        assert service.nc is not None
        try:
            answer = await service.nc.request(subjects.SUMMARIZE, encode(request), timeout=settings.summary_timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            # Dialogue may be restarting: the end is redelivered with backoff, dead-lettered after 5 tries.
            raise RetryLater("no dialogue replica answered the summary request") from None
        text = decode(answer.data, SummaryReply).text
        async with db.session() as session:
            await records.store_summary(session, user_id, end.session_id, text, utcnow())
        log.info("memory: summary stored for a session (%d messages)", len(lines))

    return service


def main() -> None:
    run_main(MemorySettings, build)
