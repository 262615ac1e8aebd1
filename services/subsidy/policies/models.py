import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, updated_at_field


class Policy(SubsidyModel, table=True):
    """One revision of a subsidy policy; a policy in use is versioned (new revision), never edited."""

    __tablename__ = "policy"
    __table_args__ = (
        UniqueConstraint("code", "revision"),
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("uq_policy_current_code", "code", unique=True, postgresql_where=text("is_current")),
        Index("ix_policy_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    code: str = Field(max_length=40, index=True)
    revision: int = 1
    is_current: bool = True
    name: str = Field(max_length=100)
    kind: str = Field(max_length=20)
    stages: list[str] = Field(sa_column=Column(ARRAY(String(20)), nullable=False))
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    boarding_only: bool = False
    non_boarders_only: bool = False
    amount_fen: int
    years: list[int] = Field(sa_column=Column(ARRAY(Integer), nullable=False))
    # The dated amount rules (policies.rules): the truth of amounts; `amount_fen` and `years` above are
    # derived from them for old clients (the amount in force when written; the years any rule covers).
    rules: list[dict] = Field(default_factory=list, sa_column=Column(JSONB, nullable=False))
    # A child with an approved hardship level at least this qualifies beside `categories`.
    min_hardship_level: str | None = Field(default=None, max_length=20)
    area_code: str = Field(max_length=12)
    created_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
