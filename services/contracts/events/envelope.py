"""The envelope every event travels in (DESIGN.md: Events)."""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

Source = Literal["registry", "subsidy", "dropout", "statistics"]
D = TypeVar("D", bound=BaseModel)


class Facts(BaseModel):
    """Base of every event's data: frozen facts; fields a consumer does not know are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Envelope(BaseModel, Generic[D]):
    """One event: who said what about which entity, when."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str = Field(description="uuid; = outbox key = Nats-Msg-Id = inbox key")
    type: str = Field(description="edu.<service>.<entity>.<event>")
    source: Source
    time: datetime = Field(description="UTC, ISO 8601")
    subject: str = Field(description="The entity's id or code")
    area_code: str | None = None
    school_code: str | None = None
    version: int | None = Field(default=None, description="Entity version after the change")
    schema_version: int = Field(default=1, description="Version of this type's data model")
    traceparent: str | None = Field(
        default=None,
        description="W3C trace context of the request that caused it; its consumer continues the trace",
        examples=["00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"],
    )
    data: D

    def raw(self) -> dict[str, Any]:
        """Return the event as JSON-ready data (as it travels)."""
        return self.model_dump(mode="json")
