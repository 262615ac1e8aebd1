"""Operations on a service's event consumers (admin): their lag, their dead letters, replay and resolve.

Every service gets this router from the kit; the gateway merges the lists of all services into one
API (`api_gateway/ops.py`). A dead letter's id is `<service>-<n>` everywhere, so an id read from
the merged list can be replayed at the gateway or on the service itself.
"""

import asyncio
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table, func, select, update

from services.kit import rls
from services.kit.auth import Principal, Role, require
from services.kit.consumer import Consumer, error_text, is_outage
from services.kit.errors import Conflict, NotFound, Unavailable
from services.kit.responses import problems
from services.kit.schemas import InputModel

log = structlog.get_logger()
Admin = Annotated[Principal, Depends(require(Role.admin))]
Status = Literal["open", "replayed", "resolved"]
LetterId = Annotated[
    str, Path(max_length=40, description="`<service>-<n>` as listed", examples=["subsidy-17"])
]
INFO_TIMEOUT = 2.0

LETTER_EXAMPLE = {
    "id": "subsidy-17",
    "service": "subsidy",
    "consumer": "subsidy-registry",
    "event_id": "0b9f6a52-5d0e-4c4e-9a55-1f8d3c2b7e10",
    "type": "edu.registry.school.created",
    "subject": "edu.registry.school.created",
    "stream_seq": 4211,
    "error": "DataError: value too long for type character varying(10)",
    "attempts": 5,
    "status": "open",
    "created_at": "2026-12-06T08:15:02Z",
    "resolved_at": None,
    "resolved_by": None,
    "note": None,
}
CONSUMER_EXAMPLE = {
    "service": "subsidy",
    "consumer": "subsidy-registry",
    "pending": 0,
    "unacknowledged": 1,
    "redelivered": 1,
    "lag": 1,
    "dead_letters": 1,
    "last_applied_at": "2026-12-06T08:14:59Z",
}


class ConsumerState(BaseModel):
    """How a durable consumer is doing; broker figures are null while the broker cannot be asked."""

    model_config = ConfigDict(json_schema_extra={"examples": [CONSUMER_EXAMPLE]})

    service: str
    consumer: str
    pending: int | None = Field(description="Events on the stream not yet delivered to it")
    unacknowledged: int | None = Field(description="Delivered, not yet acknowledged (being retried)")
    redelivered: int | None = Field(description="Of those, delivered more than once")
    lag: int | None = Field(description="pending + unacknowledged")
    dead_letters: int = Field(description="Open dead letters of this consumer")
    last_applied_at: datetime | None = Field(description="When it last applied an event")



class DeadLetter(BaseModel):
    """An event a consumer gave up on, with why; open until replayed or resolved."""

    model_config = ConfigDict(json_schema_extra={"examples": [LETTER_EXAMPLE]})

    id: str = Field(description="`<service>-<n>`", examples=["subsidy-17"])
    service: str
    consumer: str
    event_id: UUID | None = Field(description="Null when the event could not be read")
    type: str | None
    subject: str = Field(description="The NATS subject it came on")
    stream_seq: int | None
    error: str
    attempts: int = Field(description="Deliveries (and replays) that failed")
    status: Status
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None


class DeadLetterList(BaseModel):
    items: list[DeadLetter]
    next_cursor: None = Field(default=None, description="Always null: filter by `status` instead")


class Resolution(InputModel):
    note: str = Field(min_length=1, max_length=2000, examples=["事件来自已撤销的测试学校，无需重放"])


# Queries ---------------------------------------------------------------------------------------


def _spec(app: FastAPI) -> Any:
    return app.state.spec


async def open_letters(app: FastAPI) -> dict[str, int]:
    """Return the number of open dead letters per consumer."""
    dl: Table = _spec(app).dead_letter
    query = select(dl.c.consumer, func.count()).where(dl.c.status == "open").group_by(dl.c.consumer)
    async with app.state.sessionmaker() as session:
        return dict((await session.execute(query)).all())


async def last_applied(app: FastAPI) -> dict[str, datetime]:
    """Return when each consumer last recorded an event in the inbox."""
    inbox: Table = _spec(app).inbox
    query = select(inbox.c.consumer, func.max(inbox.c.received_at)).group_by(inbox.c.consumer)
    async with app.state.sessionmaker() as session:
        return dict((await session.execute(query)).all())


async def broker_state(app: FastAPI, name: str) -> dict[str, int | None]:
    """Return a consumer's pending, unacknowledged and redelivered counts (None: broker not asked)."""
    js = getattr(app.state, "js", None)
    nc = getattr(app.state, "nats", None)
    if js is None or nc is None or not nc.is_connected:
        return dict.fromkeys(("pending", "unacknowledged", "redelivered", "lag"))
    try:
        info = await asyncio.wait_for(js.consumer_info(app.state.settings.stream, name), INFO_TIMEOUT)
    except Exception as exc:  # not created yet, or being recreated by a replay
        log.info("consumer info unavailable", consumer=name, error=repr(exc))
        return dict.fromkeys(("pending", "unacknowledged", "redelivered", "lag"))
    pending, unacked = info.num_pending or 0, info.num_ack_pending or 0
    return {
        "pending": pending,
        "unacknowledged": unacked,
        "redelivered": info.num_redelivered or 0,
        "lag": pending + unacked,
    }


async def consumers(app: FastAPI) -> list[dict[str, Any]]:
    """Return the state of each consumer of the service."""
    spec = _spec(app)
    names = [sub.name for sub in spec.subscriptions]
    letters, applied, *broker = await asyncio.gather(
        open_letters(app), last_applied(app), *(broker_state(app, n) for n in names)
    )
    return [
        {
            "service": spec.name,
            "consumer": name,
            **state,
            "dead_letters": letters.get(name, 0),
            "last_applied_at": applied.get(name),
        }
        for name, state in zip(names, broker, strict=True)
    ]


async def degradations(app: FastAPI) -> tuple[list[str], dict[str, Any]]:
    """Return why the service is degraded (empty: it is not) and the figures behind it."""
    threshold = app.state.settings.consumer_lag_threshold
    names = [sub.name for sub in _spec(app).subscriptions]
    letters, *broker = await asyncio.gather(open_letters(app), *(broker_state(app, n) for n in names))
    reasons = [
        f"{n} open dead letter(s) on consumer {name}" for name, n in sorted(letters.items()) if n
    ]
    lags = {name: state["lag"] for name, state in zip(names, broker, strict=True)}
    reasons += [
        f"consumer {name} lags {lag} events (threshold {threshold})"
        for name, lag in lags.items()
        if lag is not None and lag > threshold
    ]
    return reasons, {"dead_letters": sum(letters.values()), "consumer_lag": lags}


def _letter_out(app: FastAPI, row: Any) -> dict[str, Any]:
    service = _spec(app).name
    return {**row._asdict(), "id": f"{service}-{row.id}", "service": service}


def _number(app: FastAPI, letter_id: str) -> int:
    """Read `<service>-<n>` (or plain `n`) of this service; anything else is no letter here."""
    match = re.fullmatch(rf"(?:{re.escape(_spec(app).name)}-)?([0-9]{{1,18}})", letter_id)
    if match is None:
        raise NotFound("No such dead letter")
    return int(match.group(1))


def _columns(dl: Table) -> list[Any]:
    return [c for c in dl.c if c.name != "payload"]


async def list_letters(
    app: FastAPI, *, status: str | None, consumer: str | None, limit: int
) -> list[dict[str, Any]]:
    """Return dead letters, open ones first, newest first within each status."""
    dl: Table = _spec(app).dead_letter
    query = select(*_columns(dl))
    if status:
        query = query.where(dl.c.status == status)
    if consumer:
        query = query.where(dl.c.consumer == consumer)
    query = query.order_by((dl.c.status != "open"), dl.c.created_at.desc(), dl.c.id.desc()).limit(limit)
    async with app.state.sessionmaker() as session:
        return [_letter_out(app, row) for row in (await session.execute(query)).all()]


async def _read(app: FastAPI, number: int) -> dict[str, Any]:
    dl: Table = _spec(app).dead_letter
    async with app.state.sessionmaker() as session:
        row = (await session.execute(select(*_columns(dl)).where(dl.c.id == number))).first()
    if row is None:
        raise NotFound("No such dead letter")
    return _letter_out(app, row)


def _consumer(app: FastAPI, name: str) -> Consumer:
    """Return the consumer that gave up on a letter (one built for the replay if not running yet)."""
    running = getattr(app.state, "consumers", None) or {}
    if name in running:
        return running[name][0]
    spec = _spec(app)
    for sub in spec.subscriptions:
        if sub.name == name:
            return Consumer(
                name=name, subjects=sub.subjects, handler=sub.handler, parse=spec.parse, inbox=spec.inbox,
                sessionmaker=app.state.sessionmaker, js=None, settings=app.state.settings,
            )  # fmt: skip
    raise Conflict(f"This service no longer has the consumer {name!r}; resolve the letter instead")


async def replay_letter(app: FastAPI, principal: Principal, *, letter_id: str) -> dict[str, Any]:
    """Apply a dead letter again through its consumer and inbox; 409 with the error if it fails."""
    spec, number = _spec(app), _number(app, letter_id)
    dl: Table = spec.dead_letter
    # The replay is the consumer's work on every row, whoever asked for it (as kit.service.replay).
    with rls.acting_as(rls.SYSTEM):
        try:
            async with app.state.sessionmaker() as session, session.begin():
                row = (
                    await session.execute(select(dl).where(dl.c.id == number).with_for_update())
                ).first()
                if row is None:
                    raise NotFound("No such dead letter")
                if row.status != "open":
                    raise Conflict(f"The dead letter is already {row.status}")
                consumer = _consumer(app, row.consumer)
                event = spec.parse(row.payload.encode())
                applied = await consumer.apply_in(session, event)
                await session.execute(
                    update(dl)
                    .where(dl.c.id == number)
                    .values(status="replayed", resolved_at=func.now(), resolved_by=principal.username)
                )
        except (NotFound, Conflict):
            raise
        except Exception as exc:
            await _failed_again(app, number, exc)
    log.info("dead letter replayed", letter=letter_id, applied=applied, by=principal.username)
    return await _read(app, number)


async def _failed_again(app: FastAPI, number: int, exc: Exception) -> None:
    """Keep the new error on the letter (it stays open) and answer 409, or 503 in an outage."""
    if is_outage(exc):
        raise Unavailable("The database is unavailable; try the replay again shortly") from exc
    dl: Table = _spec(app).dead_letter
    error = error_text(exc)
    async with app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(dl).where(dl.c.id == number).values(error=error, attempts=dl.c.attempts + 1)
        )
    raise Conflict(f"The event failed again: {error}", extra={"error": error}) from exc


async def resolve_letter(
    app: FastAPI, principal: Principal, *, letter_id: str, note: str
) -> dict[str, Any]:
    """Dismiss an open dead letter with a note."""
    number = _number(app, letter_id)
    dl: Table = _spec(app).dead_letter
    async with app.state.sessionmaker() as session, session.begin():
        done = (
            await session.execute(
                update(dl)
                .where(dl.c.id == number, dl.c.status == "open")
                .values(status="resolved", note=note, resolved_at=func.now(), resolved_by=principal.username)
                .returning(dl.c.id)
            )
        ).first()
    letter = await _read(app, number)  # 404 when there is none
    if done is None:
        raise Conflict(f"The dead letter is already {letter['status']}")
    return letter


# Routes ----------------------------------------------------------------------------------------

LETTER_ERRORS = problems(
    403,
    404,
    _409="The letter is not open, or (replay) the event failed again: `detail` and `error` say why; "
    "the letter stays open",
)


def ops_router() -> APIRouter:
    """Return the router of /api/v1/ops (admin only)."""
    router = APIRouter(prefix="/api/v1/ops", tags=["ops"])

    @router.get(
        "/consumers", response_model=list[ConsumerState], summary="Event consumers", responses=problems(403)
    )
    async def list_consumers(request: Request, _: Admin) -> list[dict]:
        """Show each consumer's lag, redeliveries, open dead letters and last applied event (admin)."""
        return await consumers(request.app)  # a plain list, as the contract (API.md, Ops) shows

    @router.get(
        "/dead-letters", response_model=DeadLetterList, summary="Dead letters", responses=problems(403)
    )
    async def list_dead_letters(
        request: Request,
        _: Admin,
        status: Annotated[Status | None, Query(description="Only letters in this state")] = None,
        consumer: Annotated[str | None, Query(max_length=64, description="Only this consumer's")] = None,
        limit: Annotated[int, Query(ge=1, le=500, description="At most this many, open first")] = 100,
    ) -> dict:
        """List events the consumers gave up on, open ones first (admin)."""
        items = await list_letters(request.app, status=status, consumer=consumer, limit=limit)
        return {"items": items}

    @router.post(
        "/dead-letters/{letter_id}/replay",
        response_model=DeadLetter,
        summary="Replay a dead letter",
        responses=LETTER_ERRORS,
    )
    async def replay(request: Request, principal: Admin, letter_id: LetterId) -> dict:
        """Apply the event again through its consumer and inbox (once, after a fix) (admin)."""
        return await replay_letter(request.app, principal, letter_id=letter_id)

    @router.post(
        "/dead-letters/{letter_id}/resolve",
        response_model=DeadLetter,
        summary="Dismiss a dead letter",
        responses=LETTER_ERRORS,
    )
    async def resolve(request: Request, principal: Admin, letter_id: LetterId, body: Resolution) -> dict:
        """Close an open dead letter without applying it, with a note saying why (admin)."""
        return await resolve_letter(request.app, principal, letter_id=letter_id, note=body.note)

    return router
