"""The system of record: users, login sessions, conversations, messages, the emotion timeline, summaries and
consent decisions.

Every table that holds something about a person carries a `user_id` foreign key with ON DELETE CASCADE,
directly, not through a join: export and erasure then walk one column (`USER_TABLES`), and a test fails
when a new table has a user key that export does not cover. Raw media has no column anywhere.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC in and out, on PostgreSQL (timestamptz) and SQLite (naive text) alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: store times in UTC with tzinfo")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {dt.datetime: UtcDateTime()}  # noqa: RUF012


def _user_fk() -> Mapped[str]:
    return mapped_column(String(32), ForeignKey("users.id", ondelete="CASCADE"), index=True)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    """Stored lower-cased: `Alice` and `alice` are one account."""
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="user")
    created_at: Mapped[dt.datetime]


class LoginSession(Base):
    """A login: only the SHA-256 of its token is kept, so a database dump hands out no sessions."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = _user_fk()
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    """The absolute end; the idle end is `last_seen_at` + the idle timeout."""


class Conversation(Base):
    """One WebSocket session: its id is the mesh's session id."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = _user_fk()
    started_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class Message(Base):
    """One side of a turn. (turn_id, role) is unique: a redelivered turn is not stored twice."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("turn_id", "role", name="uq_messages_turn_role"),
        Index("ix_messages_user_created", "user_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = _user_fk()
    conversation_id: Mapped[str] = mapped_column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"))
    turn_id: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    emotion: Mapped[str | None] = mapped_column(String(16))
    intensity: Mapped[float | None] = mapped_column(Float)
    breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    """The fused emotion's per-modality shares, flags and evidence (user messages)."""
    created_at: Mapped[dt.datetime]


class EmotionPoint(Base):
    """The emotion timeline: the fused emotion of each user turn."""

    __tablename__ = "emotion_timeline"
    __table_args__ = (Index("ix_emotion_timeline_user_created", "user_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = _user_fk()
    conversation_id: Mapped[str] = mapped_column(String(64), ForeignKey("conversations.id", ondelete="CASCADE"))
    turn_id: Mapped[str] = mapped_column(String(64), unique=True)
    emotion: Mapped[str] = mapped_column(String(16))
    intensity: Mapped[float] = mapped_column(Float)
    face: Mapped[str | None] = mapped_column(String(16))
    voice: Mapped[str | None] = mapped_column(String(16))
    text: Mapped[str | None] = mapped_column(String(16))
    conflict: Mapped[bool] = mapped_column(Boolean, default=False)
    masking: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime]


class Summary(Base):
    """What the assistant remembers of a user between sessions; fed to later prompts as quoted data."""

    __tablename__ = "summaries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = _user_fk()
    conversation_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("conversations.id", ondelete="SET NULL"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


class ConsentRecord(Base):
    """Append-only: every grant and withdrawal with its time; the newest per modality is in force."""

    __tablename__ = "consent_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[str] = _user_fk()
    modality: Mapped[str] = mapped_column(String(16))
    granted: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime]


USER_TABLES: dict[str, type[Base]] = {
    "users": User,
    "login_sessions": LoginSession,
    "conversations": Conversation,
    "messages": Message,
    "emotion_timeline": EmotionPoint,
    "summaries": Summary,
    "consent_records": ConsentRecord,
}
"""Everything about a user, by table: what export writes out and erasure removes."""

SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
"""Left out of exports: a hash is no information about the person and only helps an attacker."""
