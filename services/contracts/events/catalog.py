"""The catalogue of every event type: its data model, schema version, summary; parse and validate."""

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from services.contracts.events import dropout, registry, statistics, subsidy
from services.contracts.events.envelope import Envelope

Event = Envelope[Any]


@dataclass(frozen=True)
class EventSpec:
    type: str
    summary: str
    data: type[BaseModel]
    schema_version: int = 1

    @property
    def source(self) -> str:
        return self.type.split(".")[1]

    @property
    def envelope(self) -> type[Envelope]:
        return _ENVELOPES[self.type]


class EventError(ValueError):
    """An event this consumer cannot apply as it is: dead-letter it, never loop on it."""


class UnknownEvent(EventError):
    """A type the catalogue does not know (a newer producer?)."""


class NewerVersion(EventError):
    """A schema version newer than this code knows."""


CATALOG: dict[str, EventSpec] = {
    spec.type: spec
    for module in (registry, subsidy, dropout, statistics)
    for spec in (EventSpec(*entry) for entry in module.EVENTS)
}
_ENVELOPES = {t: Envelope[spec.data] for t, spec in CATALOG.items()}


def spec_of(event_type: str) -> EventSpec:
    """Return the spec of a type; UnknownEvent if there is none."""
    try:
        return CATALOG[event_type]
    except KeyError:
        raise UnknownEvent(f"unknown event type {event_type!r}") from None


def parse(raw: bytes | str | dict[str, Any]) -> Event:
    """Read an event into its typed envelope; EventError naming what is wrong."""
    if not isinstance(raw, dict):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise EventError(f"not JSON: {exc}") from None
        if not isinstance(raw, dict):
            raise EventError("an event is a JSON object")
    spec = spec_of(str(raw.get("type")))
    version = raw.get("schema_version", 1)
    if type(version) is not int or version < 1:  # "2" or 2.0 must not slip past the check below
        raise EventError(f"schema_version must be a positive integer, not {version!r}")
    if version > spec.schema_version:
        raise NewerVersion(f"{spec.type} schema_version {version} > {spec.schema_version} known here")
    try:
        return spec.envelope.model_validate(raw)
    except ValidationError as exc:
        raise EventError(_explain(exc)) from None


def validate(event: dict[str, Any]) -> dict[str, Any]:
    """Check an event before it enters an outbox; return it with its schema_version set."""
    spec = spec_of(event["type"])
    event["schema_version"] = spec.schema_version
    try:
        spec.envelope.model_validate(event)
    except ValidationError as exc:
        raise EventError(f"{spec.type}: {_explain(exc)}") from None
    if event["source"] != spec.source:
        raise EventError(f"{spec.type} is published by {spec.source}, not {event['source']}")
    return event


def _explain(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])


ENVELOPE_SCHEMA = {
    "type": "object",
    "required": ["id", "type", "source", "time", "subject", "data"],
    "properties": {
        "id": {"type": "string", "format": "uuid", "description": "Event id = outbox key = Nats-Msg-Id"},
        "type": {"type": "string", "description": "edu.<service>.<entity>.<event>"},
        "source": {"type": "string", "enum": ["registry", "subsidy", "dropout", "statistics"]},
        "time": {"type": "string", "format": "date-time"},
        "subject": {"type": "string", "description": "The entity's id or code"},
        "area_code": {"type": ["string", "null"]},
        "school_code": {"type": ["string", "null"]},
        "version": {"type": ["integer", "null"], "description": "Entity version after the change"},
        "schema_version": {
            "type": "integer",
            "description": "Version of the type's data model; 1 when absent. Consumers refuse newer ones "
            "(dead letter, replayed after an upgrade).",
        },
    },
}


def asyncapi_document() -> dict:
    """Build the AsyncAPI 3 document of every event, from the models."""
    channels, operations, messages, schemas = {}, {}, {}, {}
    for spec in CATALOG.values():
        key = spec.type.replace(".", "_")
        data_schema = spec.data.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in data_schema.pop("$defs", {}).items():
            schemas[name] = sub
        schemas[spec.data.__name__] = data_schema
        messages[key] = {
            "name": spec.type,
            "title": spec.type,
            "summary": spec.summary,
            "headers": {"type": "object", "properties": {"Nats-Msg-Id": {"type": "string"}}},
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/Envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": spec.type},
                            "schema_version": {"const": spec.schema_version},
                            "data": {"$ref": f"#/components/schemas/{spec.data.__name__}"},
                        },
                    },
                ]
            },
        }
        channels[key] = {"address": spec.type, "messages": {key: {"$ref": f"#/components/messages/{key}"}}}
        operations[f"publish_{key}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{key}"},
            "summary": f"{spec.source} publishes {spec.type}",
        }
    schemas["Envelope"] = ENVELOPE_SCHEMA
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "notoneless events",
            "version": "1.0.0",
            "description": (
                "Events on the JetStream stream EDU (subjects edu.<service>.<entity>.<event>). "
                "Each is validated against its model (services/contracts/events), written to the "
                "publishing service's outbox in the same transaction as the change and relayed with "
                "Nats-Msg-Id = id; consumers parse it into the same model and record the id in their inbox."
            ),
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": dict(sorted(schemas.items()))},
    }
