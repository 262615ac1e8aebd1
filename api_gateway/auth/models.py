"""The `refresh_token` table: opaque rotating refresh tokens, stored as hashes, in families."""

import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, LargeBinary, Uuid, func
from sqlmodel import Field

from api_gateway.db import GatewayModel, created_at_field, now


class RefreshToken(GatewayModel, table=True):
    __tablename__ = "refresh_token"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    family_id: uuid.UUID = Field(index=True)
    user_id: uuid.UUID = Field(sa_column=Column(
        Uuid, ForeignKey("gateway.user_account.id", ondelete="CASCADE"), nullable=False, index=True))
    created_at: datetime = created_at_field()
    expires_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    used_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    revoked_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # The pair this token was rotated into, encrypted under a key derived from this token (never
    # plain): presented again within the grace period (a lost answer), the same pair is returned.
    successor_sealed: bytes | None = Field(default=None, sa_column=Column(LargeBinary))


class Revocation(GatewayModel, table=True):
    """A session (`sid`: a user's login, or a platform client's tokens until it was disabled)
    whose access tokens must no longer pass. Published while such a token could still be
    unexpired (an access token lives at most a day), pruned after."""

    __tablename__ = "revocation"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    sid: uuid.UUID = Field(sa_column=Column(Uuid, unique=True, nullable=False))
    reason: str = Field(max_length=40)
    created_at: datetime = Field(default_factory=now, sa_column=Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True))


class LoginFailure(GatewayModel, table=True):
    """Failed logins of one key: a username from one client IP (`pair:`) or from anywhere (`user:`).
    Keyed by the username as typed, so unknown usernames are counted exactly like known ones."""

    __tablename__ = "login_failure"

    key: str = Field(primary_key=True, max_length=200)
    failures: int = Field(default=0)
    locked_until: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    updated_at: datetime = Field(
        default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
