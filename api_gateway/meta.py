"""`GET /api/v1/meta/labels`: every vocabulary's codes with their Chinese and English labels."""

import hashlib
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.contracts.labels import VOCABULARIES

router = APIRouter(prefix="/api/v1/meta", tags=["meta"])
_BODY = json.dumps({"vocabularies": VOCABULARIES}, ensure_ascii=False, sort_keys=True).encode()
_ETAG = '"' + hashlib.sha256(_BODY).hexdigest()[:32] + '"'
CACHE = "public, max-age=3600"


class Label(BaseModel):
    zh: str = Field(examples=["小学"], description="The Chinese label, as printed on forms")
    en: str = Field(examples=["Primary"], description="An English label")


class Labels(BaseModel):
    """Enum name → code → labels. The same labels are in the OpenAPI document as `x-enum-labels`."""

    vocabularies: dict[str, dict[str, Label]] = Field(
        examples=[
            {
                "Stage": {
                    "primary": {"zh": "小学", "en": "Primary"},
                    "junior": {"zh": "初中", "en": "Junior"},
                },
            }
        ]
    )


@router.get(
    "/labels",
    response_model=Labels,
    summary="Labels of every code",
    responses={
        200: {
            "headers": {
                "ETag": {"schema": {"type": "string"}},
                "Cache-Control": {"schema": {"type": "string"}},
            }
        },
        304: {"description": "Not modified (`If-None-Match` named the current ETag)"},
    },
)
async def labels(request: Request) -> Any:
    """Return every vocabulary (stages, enrollment statuses, aid categories, policy kinds, line
    statuses …): each code with its Chinese (`zh`) and English (`en`) label.

    Public (no token) and cacheable: it changes only with a release. Send `If-None-Match` with the
    `ETag` to get `304` while it is unchanged.
    """
    headers = {"ETag": _ETAG, "Cache-Control": CACHE}
    wanted = request.headers.get("if-none-match", "")
    if _ETAG in [t.strip().removeprefix("W/") for t in wanted.split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(_BODY, media_type="application/json", headers=headers)
