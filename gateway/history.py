"""REST for what the user said and felt: paged history, statistics, the emotion timeline; and the seed's
debug views, which only an admin can see."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select

from gateway.accounts.routes import ERRORS
from gateway.deps import CurrentUser, StateDep, admin_identity
from gateway.problems import Problem
from mrrrme.store import records
from mrrrme.store.schema import LoginSession, Summary, User

router = APIRouter(prefix="/api", tags=["history"])

SessionId = Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]


class MessageOut(BaseModel):
    id: int
    conversation_id: str
    turn_id: str
    role: str
    text: str
    emotion: str | None
    intensity: float | None
    breakdown: dict[str, Any] | None
    created_at: dt.datetime


class HistoryOut(BaseModel):
    messages: list[MessageOut] = Field(description="Newest first")
    next_before: int | None = Field(description="Pass as `before` for the next (older) page; null at the end")


class StatsOut(BaseModel):
    turns: int
    emotions: dict[str, int]
    average_intensity: float | None
    conflicts: int
    masking: int


class AllStatsOut(BaseModel):
    overall: StatsOut
    conversations: dict[str, StatsOut]


class PointOut(BaseModel):
    conversation_id: str
    turn_id: str
    emotion: str
    intensity: float
    face: str | None
    voice: str | None
    text: str | None
    conflict: bool
    masking: bool
    created_at: dt.datetime


@router.get("/history", response_model=HistoryOut, responses=ERRORS)
async def history(
    identity: CurrentUser,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62, description="Only messages older than this id")] = None,
    conversation_id: SessionId = None,
) -> HistoryOut:
    async with state.db.session() as db:
        rows = await records.history(db, identity.user_id, limit, before, conversation_id)
    messages = [MessageOut.model_validate(row, from_attributes=True) for row in rows]
    return HistoryOut(messages=messages, next_before=messages[-1].id if len(messages) == limit else None)


@router.get("/stats", response_model=AllStatsOut, responses=ERRORS)
async def stats(identity: CurrentUser, state: StateDep) -> AllStatsOut:
    """Turns, emotion distribution, average intensity, conflicts and masking: overall and per session."""
    async with state.db.session() as db:
        overall, per = await records.stats(db, identity.user_id)
    return AllStatsOut(
        overall=StatsOut(**vars(overall)), conversations={cid: StatsOut(**vars(s)) for cid, s in per.items()}
    )


@router.get("/timeline", response_model=list[PointOut], responses=ERRORS)
async def timeline(
    identity: CurrentUser,
    state: StateDep,
    conversation_id: SessionId = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[PointOut]:
    """The fused emotion of each turn, oldest first."""
    async with state.db.session() as db:
        points = await records.timeline(db, identity.user_id, conversation_id, limit)
    return [PointOut.model_validate(p, from_attributes=True) for p in points]


# --- admin only --------------------------------------------------------------------------------------


debug = APIRouter(prefix="/api/debug", tags=["debug"], dependencies=[Depends(admin_identity)])
FORBIDDEN: dict[int | str, dict[str, Any]] = {**ERRORS, 403: {"model": Problem, "description": "Not an admin"}}


class DebugUser(BaseModel):
    id: str
    username: str
    role: str
    created_at: dt.datetime
    logins: int
    messages: int
    summary: str


class DebugSession(BaseModel):
    session_id: str
    user_id: str
    username: str
    consent: dict[str, bool]


@debug.get("/users", response_model=list[DebugUser], responses=FORBIDDEN)
async def debug_users(state: StateDep, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> list[DebugUser]:
    """Accounts with their login count, message count and latest summary."""
    out: list[DebugUser] = []
    async with state.db.session() as db:
        users = (await db.scalars(select(User).order_by(User.created_at).limit(limit))).all()
        for user in users:
            logins = await db.scalar(
                select(func.count()).select_from(LoginSession).where(LoginSession.user_id == user.id)
            )
            summary = await db.scalar(
                select(Summary.text).where(Summary.user_id == user.id).order_by(Summary.created_at.desc()).limit(1)
            )
            out.append(
                DebugUser(
                    id=user.id,
                    username=user.username,
                    role=user.role,
                    created_at=user.created_at,
                    logins=int(logins or 0),
                    messages=await records.count_messages(db, user.id),
                    summary=summary or "",
                )
            )
    return out


@debug.get("/sessions", response_model=list[DebugSession], responses=FORBIDDEN)
async def debug_sessions(state: StateDep) -> list[DebugSession]:
    """Sockets open on this gateway replica."""
    return [
        DebugSession(session_id=sid, user_id=s.identity.user_id, username=s.identity.username, consent=dict(s.consent))
        for sid, s in state.sessions.items()
        if s.identity is not None
    ]
