"""The statistics schema: projections fed only by events."""

from sqlalchemy.orm import registry
from sqlmodel import SQLModel

from services.kit.db import service_metadata
from services.kit.events import dead_letter_table, inbox_table, outbox_table

SCHEMA = "statistics"
metadata = service_metadata(SCHEMA)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
dead_letter = dead_letter_table(metadata)


class StatisticsModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of the statistics tables."""
