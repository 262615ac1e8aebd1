"""The `user_account` table: people who log in with a password."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime
from sqlmodel import Field

from api_gateway.db import GatewayModel, created_at_field, updated_at_field


class UserAccount(GatewayModel, table=True):
    __tablename__ = "user_account"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    username: str = Field(max_length=64, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=16, index=True)
    area_code: str = Field(max_length=12, index=True)
    school_code: str | None = Field(default=None, max_length=10)
    disabled: bool = Field(default=False)
    failed_logins: int = Field(default=0)
    locked_until: datetime | None = Field(
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
