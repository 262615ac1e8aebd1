import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, now


class NoticeAck(SubsidyModel, table=True):
    """A parent's acknowledgement of the notice (告知书) of one student and semester."""

    __tablename__ = "notice_ack"

    student_id: uuid.UUID = Field(primary_key=True)
    semester: str = Field(primary_key=True, max_length=11)
    acknowledged_at: datetime = Field(
        default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    acknowledged_by: str = Field(max_length=100)
    role: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=500)
