"""Bodies of the token endpoints."""

import uuid

from pydantic import BaseModel, Field

from services.kit.auth import Role
from services.kit.schemas import InputModel


class TokenResponse(BaseModel):
    access_token: str = Field(examples=["eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9..."])
    token_type: str = Field(default="bearer", examples=["bearer"])
    expires_in: int = Field(examples=[900], description="Seconds until the access token expires")
    refresh_token: str | None = Field(default=None, examples=["q8V0b1..."],
                                      description="Users only; single use, rotated on refresh")


class TokenForm(BaseModel):
    """The OAuth2 token request (a form): `password` or `client_credentials` grant."""

    grant_type: str = Field(examples=["password"], description="`password` or `client_credentials`")
    username: str | None = Field(default=None, max_length=64, examples=["zhang.wei"])
    password: str | None = Field(default=None, max_length=256, examples=["Chengguan2026"])
    client_id: str | None = Field(default=None, max_length=64, examples=[None])
    client_secret: str | None = Field(default=None, max_length=256, examples=[None])
    scope: str | None = Field(default=None, max_length=256, description="Accepted and ignored")


class RefreshRequest(InputModel):
    refresh_token: str = Field(min_length=1, max_length=256, examples=["q8V0b1..."])


class Me(BaseModel):
    id: str = Field(examples=[str(uuid.UUID(int=1))], description="User id, or client_id")
    username: str = Field(examples=["zhang.wei"])
    role: Role
    area_code: str = Field(examples=["610928"])
    school_code: str | None = Field(default=None, examples=[None])
