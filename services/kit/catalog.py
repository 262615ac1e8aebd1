"""The event catalogue: each service declares the events it publishes, for asyncapi.yaml."""

from dataclasses import dataclass

from pydantic import BaseModel


@dataclass(frozen=True)
class EventSpec:
    type: str
    summary: str
    data: type[BaseModel]


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
    },
}


def asyncapi_document(catalogues: dict[str, list[EventSpec]]) -> dict:
    """Build the AsyncAPI 3 document of every service's events."""
    channels, operations, messages, schemas = {}, {}, {}, {}
    for service, specs in catalogues.items():
        for spec in specs:
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
                                "data": {"$ref": f"#/components/schemas/{spec.data.__name__}"},
                            },
                        },
                    ]
                },
            }
            channels[key] = {
                "address": spec.type,
                "messages": {key: {"$ref": f"#/components/messages/{key}"}},
            }
            operations[f"publish_{key}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{key}"},
                "summary": f"{service} publishes {spec.type}",
            }
    schemas["Envelope"] = ENVELOPE_SCHEMA
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "notoneless events",
            "version": "1.0.0",
            "description": (
                "Events on the JetStream stream EDU (subjects edu.<service>.<entity>.<event>). "
                "Each is written to the publishing service's outbox in the same transaction as the change "
                "and relayed with Nats-Msg-Id = id; consumers record the id in their inbox."
            ),
        },
        "defaultContentType": "application/json",
        "channels": dict(sorted(channels.items())),
        "operations": dict(sorted(operations.items())),
        "components": {"messages": dict(sorted(messages.items())), "schemas": dict(sorted(schemas.items()))},
    }
