"""The `api_client` table: machine clients (the poverty platform) using client credentials."""

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlmodel import Field

from api_gateway.db import GatewayModel, created_at_field, updated_at_field


class ApiClient(GatewayModel, table=True):
    __tablename__ = "api_client"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=64, unique=True)
    # sha256 of the secret: secrets are 256-bit random, so a slow hash adds nothing.
    secret_hash: str = Field(max_length=64)
    name: str = Field(max_length=200)
    area_code: str = Field(max_length=12, index=True)
    disabled: bool = Field(default=False)
    # Secret rotation: the secret before the last rotation keeps working until `previous_secret_until`.
    previous_secret_hash: str | None = Field(default=None, max_length=64)
    previous_secret_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # bcrypt of the current secret: the platform broker's password for this client (services.kit.natsauth).
    nats_password_hash: str | None = Field(default=None, max_length=80)
    # The `sid` of the client's access tokens; disabling revokes it and starts a new one.
    token_session: uuid.UUID = Field(default_factory=uuid.uuid4)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
