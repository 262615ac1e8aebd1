import uuid
from datetime import datetime

from pydantic import ConfigDict, Field

from services.contracts.vocabulary import EvidenceKind
from services.kit.schemas import Stored

EXAMPLE = {
    "id": "3f0c6f5e-2b1d-4c51-9a57-6f1f8d0f2a11",
    "kind": "photo",
    "content_type": "image/jpeg",
    "size_bytes": 482113,
    "sha256": "9f2b5c0e6d1a4b7f8c3e2d1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c",
    "filename": "家访照片.jpg",
    "note": "入户走访，与家长面谈",
    "gps_lat": 33.0712,
    "gps_lon": 108.9721,
    "device_time": "2026-10-12T09:41:00+08:00",
    "student_id": "0b7f6a8e-9c1d-4e2f-8a3b-5c6d7e8f9a0b",
    "case_id": None,
    "area_code": "610928100",
    "school_code": "2161092801",
    "village_code": "610928100201",
    "uploaded_by": "cadre_201",
    "download_url": "http://127.0.0.1:8000/files/v1/evidence/3f0c6f5e-2b1d-4c51-9a57-6f1f8d0f2a11"
    "?expires=1792734060&signature=5d1c...",
    "download_expires_at": "2026-10-12T01:46:00Z",
    "version": 1,
    "created_at": "2026-10-12T01:41:00Z",
    "updated_at": "2026-10-12T01:41:00Z",
}

class EvidencePublic(Stored):
    model_config = ConfigDict(json_schema_extra={"examples": [EXAMPLE]})

    id: uuid.UUID
    kind: EvidenceKind = Field(description="photo, scan, letter, notice, record or other")
    content_type: str = Field(description="image/jpeg, image/png or application/pdf (from the file's bytes)")
    size_bytes: int
    sha256: str = Field(description="SHA-256 of the file as received (hex)")
    filename: str | None
    note: str | None
    gps_lat: float | None = Field(description="Where the photo was taken (WGS-84), as the device said")
    gps_lon: float | None
    device_time: datetime | None = Field(description="When the device says it was taken")
    student_id: uuid.UUID | None = Field(description="The child it is about (set on upload or when attached)")
    case_id: uuid.UUID | None = Field(description="The case whose action carries it, once attached")
    area_code: str
    school_code: str | None
    village_code: str | None
    uploaded_by: str
    download_url: str = Field(
        description="A link to the file that works without a token until `download_expires_at` (a few "
        "minutes), for this file only; ask again for a fresh one"
    )
    download_expires_at: datetime
