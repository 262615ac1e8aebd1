"""Request and response bodies of the platform-client endpoints."""

import uuid

from pydantic import Field, field_validator

from api_gateway.users.policy import area_problem
from services.kit.auth import Role
from services.kit.schemas import InputModel, Stored
from services.kit.text import PersonName


class ClientCreate(InputModel):
    # Shown to people beside what the client did (audit): the same rule as a person's name.
    name: PersonName = Field(min_length=1, max_length=200, examples=["省防返贫监测大数据平台"])
    area_code: str = Field(examples=["61"], description="2, 4 or 6 digits: what the client may see")

    @field_validator("area_code")
    @classmethod
    def _area(cls, v: str) -> str:
        if problem := area_problem(Role.platform, v):
            raise ValueError(problem)
        return v


class ClientPublic(Stored):
    id: uuid.UUID
    client_id: str = Field(examples=["plt_3q2b7Xk9aP0"])
    name: str = Field(examples=["省防返贫监测大数据平台"])
    area_code: str = Field(examples=["61"])
    disabled: bool = False


class ClientCreated(ClientPublic):
    client_secret: str = Field(description="Shown once; only its hash is kept",
                               examples=["m3Y1r0Qx-secret-shown-once"])
