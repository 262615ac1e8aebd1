"""Client-generated ids: an offline phone names what it creates, so sending it twice stores it once.

A village app queues a home visit, an action, an absence or a record while offline and sends it when
the network comes back; the answer may be lost and the app sends it again. With an `id` (a UUID the
app generated) in the body, the second send finds the first: the same content is the same record
(answered with the stored record, nothing new written, no second event), other content under that
id is 409 `id_conflict`. An id is looked up across scopes (ids are unique deployment-wide), so an id
already taken elsewhere is a 409, never a duplicate key error.

"The same content" compares what the client said. A time it left out (`occurred_at` defaulted to
now) matches whatever was stored; a time it gave matches within the clock skew the caller allows
(the services pass `contracts.calendar.CLIENT_CLOCK_SKEW`): a phone's fast clock is clamped to the
server's now, so two sends of one visit a minute apart can be stored a minute apart.
"""

import uuid
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.errors import Conflict
from services.kit.rls import as_system

M = TypeVar("M")
ID_DESCRIPTION = (
    "A UUID the client generated for this new record (offline apps): sending it again with the same "
    "content answers the stored record (200) and stores nothing new; other content under the same id "
    "is 409 id_conflict. Default: the server makes one"
)


async def stored(session: AsyncSession, model: type[M], record_id: uuid.UUID | None) -> M | None:
    """Return the record with a client's id, wherever it lies (ids are unique deployment-wide)."""
    if record_id is None:
        return None
    async with as_system(session):
        return await session.get(model, record_id)


def same_time(given: datetime | None, kept: datetime, *, skew: timedelta) -> bool:
    """Whether a client's time (None: it let the server choose) is the time stored for its record."""
    return given is None or abs(given - kept) <= skew


def same_fields(given: dict[str, Any], kept: Any) -> bool:
    """Whether each field the client gave (None: not given) equals the stored one."""
    return all(value is None or value == getattr(kept, key) for key, value in given.items())


class IdConflict(Conflict):
    code = "id_conflict"


def conflict(record_id: uuid.UUID, what: str) -> IdConflict:
    """The 409 for an id already used by other content (or another kind of record)."""
    return IdConflict(
        f"The id {record_id} is already used by another {what}: make a new id for a new record",
        errors=[{"loc": ["id"], "msg": "already used by other content", "code": "id_conflict"}],
        extra={"id": str(record_id)},
    )
