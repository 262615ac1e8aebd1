"""Evidence files (佐证材料): checked uploads into the object store, scoped reads, signed links, attaching.

A file is accepted only as what its bytes say (JPEG, PNG or PDF by their magic numbers, never by
the name or the declared type) and up to NOL_EVIDENCE_LIMIT_BYTES; its SHA-256 is recorded. It is
placed where its student is (when named) or where its uploader is, and read only there. Attaching
it to a case action (or, through `attach`, to any record of a student) moves it to that student.
"""

import hashlib
import uuid
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import EvidenceKind
from services.dropout.db import now
from services.dropout.events import emit_all, event
from services.dropout.evidence.models import Evidence
from services.dropout.students.models import Student
from services.dropout.students.scope import student_for_write
from services.kit.auth import Principal, Role
from services.kit.crypto import mask_ids
from services.kit.errors import Invalid, NotFound
from services.kit.rls import within
from services.kit.settings import Settings
from services.kit.storage import LinkSigner, ObjectStore

MAGIC = (
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"%PDF-", "application/pdf", "pdf"),
)
EXTENSIONS = {content_type: ext for _, content_type, ext in MAGIC}
LINK_PATH = "/files/v1/evidence/{}"


def sniff(data: bytes) -> str | None:
    """Return the content type the bytes themselves show (JPEG, PNG, PDF), or None."""
    for magic, content_type, _ in MAGIC:
        if data.startswith(magic):
            return content_type
    return None


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """SQL filter on `evidence`: the caller's school, village or area (as for students)."""
    if principal.role is Role.school:
        return Evidence.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Evidence.village_code, principal.area_code)
    return within(Evidence.area_code, principal.area_code)


def _place_of(principal: Principal, student: Student | None) -> dict:
    """Where a file lies: its student's codes, else its uploader's school, village or area."""
    if student is not None:
        return {
            "area_code": student.area_code or student.village_code or principal.area_code,
            "school_code": student.school_code,
            "village_code": student.village_code,
        }
    return {
        "area_code": principal.area_code,
        "school_code": principal.school_code if principal.role is Role.school else None,
        "village_code": principal.area_code if principal.role is Role.village else None,
    }


def _event(what: str, e: Evidence) -> dict:
    return event(
        f"edu.dropout.evidence.{what}",
        subject=str(e.id),
        area_code=e.area_code,
        school_code=e.school_code,
        version=e.version,
        data={
            "evidence_id": str(e.id), "kind": e.kind, "content_type": e.content_type,
            "size_bytes": e.size_bytes, "sha256": e.sha256, "area_code": e.area_code,
            "student_id": str(e.student_id) if e.student_id else None,
            "case_id": str(e.case_id) if e.case_id else None, "has_gps": e.gps_lat is not None,
        },
    )  # fmt: skip


async def upload(
    session: AsyncSession,
    principal: Principal,
    *,
    store: ObjectStore,
    data: bytes,
    kind: EvidenceKind,
    filename: str | None,
    gps: tuple[float, float] | None,
    device_time: datetime | None,
    student_id: uuid.UUID | None,
    note: str | None,
) -> Evidence:
    """Check the file by its bytes, keep it in the store and record it (with its SHA-256)."""
    content_type = sniff(data)
    if content_type is None:
        raise Invalid(["file"], "Upload a JPEG or PNG photo or a PDF scan", code="unsupported_type")
    student = await student_for_write(session, principal, student_id) if student_id else None
    evidence_id = uuid.uuid4()
    evidence = Evidence(
        id=evidence_id,
        kind=kind.value,
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=f"evidence/{evidence_id}.{EXTENSIONS[content_type]}",
        filename=mask_ids(filename)[:255] if filename else None,
        note=note,
        gps_lat=gps[0] if gps else None,
        gps_lon=gps[1] if gps else None,
        device_time=device_time,
        student_id=student.id if student else None,
        uploaded_by=principal.username,
        uploaded_role=principal.role.value,
        **_place_of(principal, student),
    )
    session.add(evidence)
    await session.flush()
    await emit_all(session, [_event("recorded", evidence)])
    # Stored last: a failure here rolls the record back (an object left by a failed commit is unseen).
    await store.put(evidence.storage_key, data, content_type=content_type)
    return evidence


async def evidence_or_404(session: AsyncSession, principal: Principal, evidence_id: uuid.UUID) -> Evidence:
    found = await session.execute(select(Evidence).where(Evidence.id == evidence_id, visible_to(principal)))
    evidence = found.scalar_one_or_none()
    if evidence is None:
        raise NotFound("No such evidence file")
    return evidence


def link(settings: Settings, evidence: Evidence) -> tuple[str, datetime]:
    """Return a signed download link to the file (no token needed until it expires) and its expiry."""
    path = LINK_PATH.format(evidence.id)
    expires, signature = LinkSigner.of(settings).sign(path)
    url = f"{settings.public_gateway_url}{path}?expires={expires}&signature={signature}"
    return url, datetime.fromtimestamp(expires, UTC)


async def attach(
    session: AsyncSession,
    principal: Principal,
    *,
    ids: list[uuid.UUID],
    student: Student,
    case_id: uuid.UUID | None = None,
    loc: str = "evidence",
) -> list[uuid.UUID]:
    """Give files of the caller's scope to a student's record; 422 naming the item for any other.

    A file already given to another student is refused; it then lies where the student is.
    """
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return []
    stmt = select(Evidence).where(Evidence.id.in_(wanted), visible_to(principal)).with_for_update()
    found = {e.id: e for e in (await session.execute(stmt)).scalars()}
    for index, evidence_id in enumerate(ids):
        e = found.get(evidence_id)
        if e is None:
            raise Invalid([loc, index], "Unknown evidence file", code="unknown_evidence")
        if e.student_id is not None and e.student_id != student.id:
            raise Invalid([loc, index], "The evidence file is another child's", code="other_student")
    for e in found.values():
        for key, value in _place_of(principal, student).items():
            setattr(e, key, value)
        e.student_id, e.case_id = student.id, case_id or e.case_id
        e.version += 1
        e.updated_at = now()
        session.add(e)
    await session.flush()
    await emit_all(session, [_event("attached", found[i]) for i in wanted])
    return wanted
