"""The `api_client` table: machine clients (the poverty platform) using client credentials."""

import uuid
from datetime import datetime

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
    # The `sid` of the client's access tokens; disabling revokes it and starts a new one.
    token_session: uuid.UUID = Field(default_factory=uuid.uuid4)
    version: int = Field(default=1)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
