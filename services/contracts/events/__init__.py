"""Typed, versioned events: the one catalogue producers validate against and consumers parse into.

An event is an envelope (`Event`) with a `data` model chosen by its `type`. The envelope carries
`schema_version`, the version of that type's data model: a producer writes the version it was
built with; a consumer reads any version up to the one it knows (fields added later have
defaults, fields it does not know are ignored) and refuses a newer one (`NewerVersion`), which
its kit dead-letters for a replay once the consumer is upgraded.
"""

from services.contracts.events.catalog import (
    CATALOG,
    Event,
    EventError,
    EventSpec,
    NewerVersion,
    UnknownEvent,
    asyncapi_document,
    parse,
    spec_of,
    validate,
)

__all__ = [
    "CATALOG",
    "Event",
    "EventError",
    "EventSpec",
    "NewerVersion",
    "UnknownEvent",
    "asyncapi_document",
    "parse",
    "spec_of",
    "validate",
]
