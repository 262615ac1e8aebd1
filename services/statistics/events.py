"""Statistics events: past-tense facts written to the outbox with the change (models: contracts)."""

from services.contracts import events
from services.kit.events import Emitter
from services.statistics.db import outbox

SOURCE = "statistics"

emit = Emitter(outbox, SOURCE, validate=events.validate)
"""Record a statistics event in the outbox, in the current transaction."""
