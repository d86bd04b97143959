"""Conversations, messages, the emotion timeline, summaries and consent: the queries the gateway and the
memory service share. Each function takes the session it works in and the time it counts as now, so the
caller owns the transaction and tests own the clock."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from mrrrme.contracts import FusedEmotion, ModalityShare, TurnRecord
from mrrrme.store.schema import ConsentRecord, Conversation, EmotionPoint, Message, Summary

MODALITIES = ("camera", "microphone")
SUMMARY_MAX_CHARS = 1200
"""Summaries are capped: a long one cannot crowd the prompt or smuggle in a long injected text."""


def utc(ts: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ts, dt.UTC)


async def start_conversation(db: AsyncSession, session_id: str, user_id: str, now: dt.datetime) -> None:
    db.add(Conversation(id=session_id, user_id=user_id, started_at=now))


async def end_conversation(db: AsyncSession, session_id: str, now: dt.datetime) -> Conversation | None:
    conversation = await db.get(Conversation, session_id)
    if conversation is not None and conversation.ended_at is None:
        conversation.ended_at = now
    return conversation


def _insert_ignoring_duplicates(db: AsyncSession, model: type[Any], rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: a redelivered turn finds its rows there and adds nothing."""
    insert = pg_insert if db.get_bind().dialect.name == "postgresql" else sqlite_insert
    return insert(model).values(rows).on_conflict_do_nothing()


def _breakdown(fused: FusedEmotion) -> dict[str, Any]:
    shares = {m: msgspec.to_builtins(getattr(fused, m)) for m in ("face", "voice", "text") if getattr(fused, m)}
    return {
        "probabilities": fused.probabilities,
        "modalities": shares,
        "conflict": fused.conflict,
        "masking": fused.masking,
        "evidence": fused.evidence,
    }


def _said(share: ModalityShare | None) -> str | None:
    return share.reading.emotion if share is not None and share.reading is not None else None


async def store_turn(db: AsyncSession, record: TurnRecord) -> bool:
    """Write a finished turn (user message, assistant message, timeline point). False when the session is
    unknown (never started here, or its user was erased): nothing to attach it to, nothing is written."""
    conversation = await db.get(Conversation, record.session_id)
    if conversation is None:
        return False
    at = utc(record.ts)
    common = {"user_id": conversation.user_id, "conversation_id": conversation.id, "turn_id": record.turn_id}
    messages: list[dict[str, Any]] = []
    fused = record.fused
    if record.kind == "user" and record.user_text:
        messages.append(
            common
            | {
                "role": "user",
                "text": record.user_text,
                "emotion": fused.emotion if fused else None,
                "intensity": fused.intensity if fused else None,
                "breakdown": _breakdown(fused) if fused else None,
                # The user spoke before the reply: keep that order in history even at equal timestamps.
                "created_at": at - dt.timedelta(microseconds=1),
            }
        )
    if record.reply:
        messages.append(
            common
            | {
                "role": "assistant",
                "text": record.reply,
                "emotion": record.reply_emotion,
                "intensity": record.reply_intensity,
                "breakdown": {"interrupted": record.interrupted},
                "created_at": at,
            }
        )
    if messages:
        await db.execute(_insert_ignoring_duplicates(db, Message, messages))
    if fused is not None and record.kind == "user":
        point = common | {
            "emotion": fused.emotion,
            "intensity": fused.intensity,
            "face": _said(fused.face),
            "voice": _said(fused.voice),
            "text": _said(fused.text),
            "conflict": fused.conflict,
            "masking": fused.masking,
            "created_at": at,
        }
        await db.execute(_insert_ignoring_duplicates(db, EmotionPoint, [point]))
    return True


# --- summaries --------------------------------------------------------------------------------------


async def latest_summary(db: AsyncSession, user_id: str) -> str:
    row = await db.scalar(
        select(Summary.text).where(Summary.user_id == user_id).order_by(Summary.created_at.desc()).limit(1)
    )
    return row or ""


async def conversation_lines(db: AsyncSession, session_id: str, limit: int = 40) -> list[Message]:
    rows = await db.scalars(
        select(Message).where(Message.conversation_id == session_id).order_by(Message.created_at.desc()).limit(limit)
    )
    return list(reversed(rows.all()))


async def store_summary(db: AsyncSession, user_id: str, session_id: str | None, text: str, now: dt.datetime) -> None:
    row = {"user_id": user_id, "conversation_id": session_id, "text": text[:SUMMARY_MAX_CHARS], "created_at": now}
    await db.execute(_insert_ignoring_duplicates(db, Summary, [row]))


# --- consent ----------------------------------------------------------------------------------------


async def record_consent(db: AsyncSession, user_id: str, granted: dict[str, bool], now: dt.datetime) -> None:
    for modality, value in granted.items():
        if modality not in MODALITIES:
            raise ValueError(f"unknown modality {modality!r}")
        db.add(ConsentRecord(user_id=user_id, modality=modality, granted=value, created_at=now))


async def current_consent(db: AsyncSession, user_id: str) -> dict[str, bool]:
    """The newest decision per modality; no decision means no consent."""
    consent = dict.fromkeys(MODALITIES, False)
    rows = await db.execute(
        select(ConsentRecord.modality, ConsentRecord.granted)
        .where(ConsentRecord.user_id == user_id)
        .order_by(ConsentRecord.created_at, ConsentRecord.id)
    )
    for modality, granted in rows.all():
        consent[modality] = granted
    return consent


# --- history and statistics ------------------------------------------------------------------------


async def history(
    db: AsyncSession, user_id: str, limit: int, before_id: int | None, conversation_id: str | None
) -> list[Message]:
    """The user's messages, newest first; page on with `before_id` = the smallest id of the last page."""
    query = select(Message).where(Message.user_id == user_id)
    if before_id is not None:
        query = query.where(Message.id < before_id)
    if conversation_id is not None:
        query = query.where(Message.conversation_id == conversation_id)
    rows = await db.scalars(query.order_by(Message.id.desc()).limit(limit))
    return list(rows.all())


@dataclass(frozen=True)
class Stats:
    turns: int
    emotions: dict[str, int]
    average_intensity: float | None
    conflicts: int
    masking: int


def _stats(points: list[EmotionPoint]) -> Stats:
    counts = Counter(p.emotion for p in points)
    return Stats(
        turns=len(points),
        emotions={e: counts.get(e, 0) for e in ("Neutral", "Happy", "Sad", "Angry")},
        average_intensity=round(sum(p.intensity for p in points) / len(points), 4) if points else None,
        conflicts=sum(p.conflict for p in points),
        masking=sum(p.masking for p in points),
    )


async def stats(db: AsyncSession, user_id: str) -> tuple[Stats, dict[str, Stats]]:
    """Overall and per conversation, from the emotion timeline (one point per user turn)."""
    rows = await db.scalars(
        select(EmotionPoint).where(EmotionPoint.user_id == user_id).order_by(EmotionPoint.created_at)
    )
    points = list(rows.all())
    per: dict[str, list[EmotionPoint]] = {}
    for point in points:
        per.setdefault(point.conversation_id, []).append(point)
    return _stats(points), {cid: _stats(p) for cid, p in per.items()}


async def timeline(db: AsyncSession, user_id: str, conversation_id: str | None, limit: int) -> list[EmotionPoint]:
    query = select(EmotionPoint).where(EmotionPoint.user_id == user_id)
    if conversation_id is not None:
        query = query.where(EmotionPoint.conversation_id == conversation_id)
    rows = await db.scalars(query.order_by(EmotionPoint.created_at.desc()).limit(limit))
    return list(reversed(rows.all()))


async def count_messages(db: AsyncSession, user_id: str) -> int:
    return int(await db.scalar(select(func.count()).select_from(Message).where(Message.user_id == user_id)) or 0)
