"""Registry events: past-tense facts written to the outbox with the change (models: contracts)."""

from services.contracts import events
from services.kit.events import Emitter
from services.registry.db import outbox

SOURCE = "registry"

emit = Emitter(outbox, SOURCE, validate=events.validate)
"""Record a registry event in the outbox, in the current transaction."""
