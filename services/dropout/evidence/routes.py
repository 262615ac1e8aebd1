"""Evidence files: upload, read (with a signed link), and the token-free download the link points to."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from services.contracts.calendar import CLIENT_TIME, ClientTimestamp
from services.contracts.vocabulary import EvidenceKind
from services.dropout.evidence import service
from services.dropout.evidence.models import Evidence
from services.dropout.evidence.schemas import EvidencePublic
from services.kit.auth import STAFF, Principal, require
from services.kit.db import SessionDep
from services.kit.errors import AppError, Invalid, NotFound, PayloadTooLarge
from services.kit.responses import problems
from services.kit.rls import as_system
from services.kit.settings import Settings
from services.kit.storage import LinkSigner, MissingObject, ObjectStore, object_store

router = APIRouter(prefix="/api/v1/evidence", tags=["evidence"])
links = APIRouter(tags=["evidence"])
Staff = Annotated[Principal, Depends(require(*STAFF))]

UPLOAD_DESCRIPTION = """\
Upload a photo or scan (佐证材料) of a home visit, a case action, a pairing record, a letter or a
notice: multipart `file` (JPEG, PNG or PDF, recognised by its bytes; up to 10 MB) and `kind`
(`photo`, `scan`, `letter`, `notice`, `record`, `other`), optionally `gps_lat` and `gps_lon`
together (WGS-84, as the phone gave them), `device_time` (when the phone says it was taken, with
a zone), `student_id` (the child it is about: the file is then seen where the child is seen) and
`note`. The SHA-256 of the bytes is recorded. Attach it by listing its id in `evidence` of a case
action (`POST /api/v1/dropout/cases/{id}/actions`). Any other file type: 422 naming `file`; over
the size: 413."""


def store_of(request: Request) -> ObjectStore:
    """The app's object store, made on first use (kit.storage picks the filesystem or S3)."""
    store = getattr(request.app.state, "object_store", None)
    if store is None:
        store = request.app.state.object_store = object_store(request.app.state.settings)
    return store


def public(settings: Settings, evidence: Evidence) -> dict:
    url, expires_at = service.link(settings, evidence)
    body = evidence.model_dump() | {"download_url": url, "download_expires_at": expires_at}
    return EvidencePublic.model_validate(body).model_dump(mode="json")


async def _read_capped(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"The file is larger than {limit // (1024 * 1024)} MB",
            errors=[{"loc": ["file"], "msg": f"at most {limit} bytes", "code": "too_large"}],
        )
    return data


def _gps(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if (lat is None) != (lon is None):
        missing = "gps_lon" if lon is None else "gps_lat"
        raise Invalid([missing], "gps_lat and gps_lon go together", code="missing")
    return (lat, lon) if lat is not None and lon is not None else None


@router.post(
    "",
    status_code=201,
    response_model=EvidencePublic,
    summary="Upload an evidence file (佐证材料)",
    description=UPLOAD_DESCRIPTION,
    responses=problems(403, 413),
)
async def upload_evidence(
    request: Request,
    session: SessionDep,
    principal: Staff,
    file: Annotated[UploadFile, File(description="JPEG, PNG or PDF, at most 10 MB")],
    kind: Annotated[EvidenceKind, Form(description="What the file shows")],
    gps_lat: Annotated[float | None, Form(ge=-90, le=90, examples=[33.0712])] = None,
    gps_lon: Annotated[float | None, Form(ge=-180, le=180, examples=[108.9721])] = None,
    device_time: Annotated[
        ClientTimestamp | None, Form(description=CLIENT_TIME)
    ] = None,
    student_id: Annotated[uuid.UUID | None, Form(description="The child the file is about")] = None,
    note: Annotated[str | None, Form(max_length=500)] = None,
) -> Any:
    settings: Settings = request.app.state.settings
    if device_time is not None and device_time.tzinfo is None:
        raise Invalid(["device_time"], "device_time needs a time zone (e.g. Z or +08:00)")
    gps = _gps(gps_lat, gps_lon)
    data = await _read_capped(file, settings.evidence_limit_bytes)
    evidence = await service.upload(
        session, principal, store=store_of(request), data=data, kind=kind, filename=file.filename,
        gps=gps, device_time=device_time, student_id=student_id, note=note,
    )  # fmt: skip
    body = public(settings, evidence)
    return JSONResponse(body, status_code=201, headers={"Location": f"/api/v1/evidence/{evidence.id}"})


@router.get(
    "/{evidence_id}",
    response_model=EvidencePublic,
    summary="Read an evidence file's record, with a short-lived download link",
    responses=problems(403, 404),
)
async def read_evidence(
    evidence_id: uuid.UUID, request: Request, session: SessionDep, principal: Staff
) -> Any:
    """The file's record and a `download_url` that works without a token for a few minutes
    (NOL_LINK_SECONDS, default 300), for this file only. Outside the caller's scope: 404."""
    return public(request.app.state.settings, await service.evidence_or_404(session, principal, evidence_id))


class LinkRefused(AppError):
    status, code = 403, "invalid_link"


@links.get(
    "/files/v1/evidence/{evidence_id}",
    summary="Download an evidence file by its signed link (no token)",
    response_class=Response,
    openapi_extra={"security": []},
    responses={
        200: {
            "description": "The file as uploaded",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in service.EXTENSIONS},
        },
        **problems(403, 404),
    },
)
async def download_evidence(
    evidence_id: uuid.UUID,
    request: Request,
    session: SessionDep,
    expires: Annotated[int, Query(ge=0, le=2**62, description="From the link")],
    signature: Annotated[str, Query(pattern=r"^[0-9a-f]{64}$", description="From the link")],
) -> Response:
    """The link from `GET /api/v1/evidence/{id}`: refused (403) once expired or when any part of it
    was changed; it opens this one file only."""
    path = service.LINK_PATH.format(evidence_id)
    if not LinkSigner.of(request.app.state.settings).valid(path, expires, signature):
        raise LinkRefused("The link is invalid or has expired; ask for a new one")
    # The signature is the caller's right to this one file: read it in the service's own scope.
    async with as_system(session):
        evidence = await session.get(Evidence, evidence_id)
    if evidence is None:
        raise NotFound("No such evidence file")
    try:
        data = await store_of(request).get(evidence.storage_key)
    except MissingObject:
        raise NotFound("The file is no longer stored") from None
    name = f"evidence-{evidence.id}.{service.EXTENSIONS.get(evidence.content_type, 'bin')}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "X-Content-SHA256": evidence.sha256}
    return Response(data, media_type=evidence.content_type, headers=headers)

