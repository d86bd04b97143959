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
import datetime as dt
import logging

import nats.errors

from mrrrme import subjects
from mrrrme.contracts import SessionEnded, SummaryReply, SummaryRequest, TurnRecord
from mrrrme.runtime import Context, RetryLater, Service
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


class MemoryService(Service[MemorySettings]):
    name = "memory"

    def __init__(self, settings: MemorySettings) -> None:
        super().__init__(settings, "sql")
        self.db = Database(settings.database_url)  # connects on first use
        self.consume_durable(
            subjects.RECORD_STREAM, subjects.ALL_TURN_RECORDS, schema=TurnRecord, durable="memory-turns", concurrency=4
        )(self.on_turn)
        self.consume_durable(
            subjects.RECORD_STREAM,
            subjects.ALL_SESSION_ENDS,
            schema=SessionEnded,
            durable="memory-ends",
            concurrency=2,
            ack_wait_s=settings.summary_timeout_s * 2,
        )(self.on_session_end)

    async def setup(self) -> None:
        if self.settings.migrate_on_start:
            await self.db.migrate()
        self.spawn(self.retention_loop(), "retention")

    async def teardown(self) -> None:
        await self.db.aclose()

    async def retention_loop(self) -> None:
        while True:
            try:
                removed = await purge(self.db, self.settings.retention_days, utcnow())
                if any(removed.values()):
                    log.info("memory: retention purge removed %s", removed)
            except Exception:
                log.exception("memory: retention purge failed; next try in %.0f s", self.settings.retention_check_s)
            await asyncio.sleep(self.settings.retention_check_s)

    async def on_turn(self, record: TurnRecord, ctx: Context) -> None:
        async with self.db.session() as session:
            stored = await records.store_turn(session, record)
        if not stored:
            log.info("memory: turn of an unknown session (never opened here, or erased): not stored")

    async def on_session_end(self, end: SessionEnded, ctx: Context) -> None:
        async with self.db.session() as session:
            conversation = await records.end_conversation(session, end.session_id, records.utc(end.ts))
            if conversation is None:
                return
            user_id = conversation.user_id
            lines = await records.conversation_lines(session, end.session_id, self.settings.summary_lines)
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
        try:
            answer = await ctx.request(subjects.SUMMARIZE, request, SummaryReply, self.settings.summary_timeout_s)
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            # Dialogue may be restarting: the end is redelivered with backoff, dead-lettered after 5 tries.
            raise RetryLater("no dialogue replica answered the summary request") from None
        async with self.db.session() as session:
            await records.store_summary(session, user_id, end.session_id, answer.text, utcnow())
        log.info("memory: summary stored for a session (%d messages)", len(lines))
