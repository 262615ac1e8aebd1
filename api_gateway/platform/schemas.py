"""Request and response bodies of the webhook endpoints and of secret rotation."""

import re
import uuid
from datetime import datetime

from pydantic import Field, field_validator

from services.kit.schemas import InputModel, OutputModel, Stored

EVENT_PATTERN = re.compile(r"^edu(\.([a-z_]+|\*))*(\.>)?$")


class WebhookCreate(InputModel):
    url: str = Field(
        max_length=2000,
        examples=["https://platform.example.cn/hooks/notoneless"],
        description="http(s) URL the events are POSTed to",
    )
    events: list[str] = Field(
        min_length=1,
        max_length=50,
        examples=[["edu.registry.household.*"]],
        description="Event types, or NATS-style patterns (`*` one token, `>` the rest)",
    )
    area_code: str | None = Field(
        default=None,
        pattern=r"^[0-9]{2,12}$",
        examples=["610928"],
        description="Only events inside this area (default: the client's area)",
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("must be an http or https URL")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[str]) -> list[str]:
        for pattern in v:
            if not EVENT_PATTERN.match(pattern):
                raise ValueError(f"not an event type or pattern: {pattern}")
        return v


class WebhookPublic(Stored):
    id: uuid.UUID
    client_id: str = Field(examples=["plt_3q2b7Xk9aP0"])
    url: str = Field(examples=["https://platform.example.cn/hooks/notoneless"])
    events: list[str] = Field(examples=[["edu.registry.household.*"]])
    area_code: str = Field(examples=["610928"])
    disabled: bool = False


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="HMAC-SHA256 key, shown once. Each delivery carries `X-Nol-Timestamp: <unix seconds>` "
        "and `X-Nol-Signature: v1=<hex HMAC of '<timestamp>.<body>'>`; refuse old timestamps.",
        examples=["whsec_8Jx0…"],
    )


class DeliveryPublic(OutputModel):
    id: int = Field(examples=[42])
    webhook_id: uuid.UUID
    event_id: uuid.UUID
    event_type: str = Field(examples=["edu.registry.household.created"])
    status: str = Field(
        examples=["delivered"], description="pending, delivered or failed (after the last try)"
    )
    attempts: int = Field(examples=[2])
    next_attempt_at: datetime
    last_status_code: int | None = Field(default=None, examples=[200])
    last_error: str | None = Field(default=None, examples=["HTTP 500: "])
    delivered_at: datetime | None = None
    created_at: datetime


class SecretRotated(OutputModel):
    client_id: str = Field(examples=["plt_3q2b7Xk9aP0"])
    client_secret: str = Field(
        description="The new secret, shown once", examples=["m3Y1r0Qx-secret-shown-once"]
    )
    previous_secret_until: datetime = Field(description="Until then the previous secret works too")
