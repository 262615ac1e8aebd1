"""Dropout events: past-tense facts written to the outbox with the change (models: contracts)."""

from services.contracts import events
from services.dropout.db import outbox
from services.kit.events import Emitter

SOURCE = "dropout"

emit = Emitter(outbox, SOURCE, validate=events.validate)
"""Record one dropout event in the outbox, in the current transaction."""
event = emit.event
emit_all = emit.emit_all
