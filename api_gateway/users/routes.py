"""`/api/v1/users`: admins, county and township users manage users inside their own area."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from sqlalchemy import select

from api_gateway.users import service
from api_gateway.users.models import UserAccount
from api_gateway.users.policy import MANAGERS
from api_gateway.users.schemas import UserCreate, UserPublic, UserUpdate
from api_gateway.users.schools import school_check
from services.kit.auth import Principal, Role, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch

router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=problems(403))  # managers only
Manager = Annotated[Principal, Depends(require(*MANAGERS))]
UserId = Annotated[uuid.UUID, Path(description="The user's id")]


async def user_in_scope(user_id: UserId, session: SessionDep, principal: Manager) -> UserAccount:
    return await service.get_user_or_404(session, principal, user_id)


UserInScope = Annotated[UserAccount, Depends(user_in_scope)]


@router.post("", status_code=201, response_model=UserPublic, summary="Create a user",
             responses=problems(409))
async def create_user(data: UserCreate, session: SessionDep, principal: Manager,
                      request: Request) -> UserAccount:
    """Create a user at or below the caller's level, inside the caller's area.

    Admins create any role under their area (only they create `admin` and `platform` users);
    county users create county, township, school and village users in their county;
    township users create township, school and village users in their township.
    A school user's school must lie inside the user's area (422 `unknown_school` otherwise).
    """
    return await service.create_user(session, principal, data=data, check_school=school_check(request))


@router.get("", response_model=Page[UserPublic], summary="List users")
async def list_users(
    session: SessionDep, principal: Manager, limit: Limit = 50, cursor: Cursor = None,
    role: Role | None = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$",
                                           description="Users in this area or below it")] = None,
    disabled: bool | None = None,
    q: Annotated[str | None, Query(max_length=64, description="Part of the username")] = None,
    updated_since: UpdatedSince = None,
):
    """List the users the caller manages."""
    stmt = select(UserAccount).where(service.visible_to(principal))
    if role:
        stmt = stmt.where(UserAccount.role == role)
    if area_code:
        stmt = stmt.where(UserAccount.area_code.startswith(area_code, autoescape=True))
    if disabled is not None:
        stmt = stmt.where(UserAccount.disabled == disabled)
    if q:
        stmt = stmt.where(UserAccount.username.icontains(q, autoescape=True))
    if updated_since:
        stmt = stmt.where(UserAccount.updated_at >= updated_since)
    return await paginate(
        session, stmt, order_by=[UserAccount.created_at, UserAccount.id], limit=limit,
        cursor=cursor, key=lambda u: [u.created_at, u.id], to_item=UserPublic.model_validate)


@router.get("/{user_id}", response_model=UserPublic, summary="Read a user", responses=problems(404))
async def read_user(user: UserInScope) -> UserAccount:
    """Return one user the caller manages."""
    return user


@router.patch("/{user_id}", response_model=UserPublic, summary="Change a user",
              responses=problems(404, 409))
async def update_user(user: UserInScope, data: UserUpdate, session: SessionDep,
                      principal: Manager, request: Request, if_match: IfMatch = None) -> UserAccount:
    """Change password, area, school or disabled; `version` (or If-Match) must be current."""
    return await service.update_user(session, principal, user=user, data=data, if_match=if_match,
                                     check_school=school_check(request))


@router.post("/{user_id}/disable", response_model=UserPublic, summary="Disable a user",
             responses=problems(404))
async def disable_user(user: UserInScope, session: SessionDep, principal: Manager) -> UserAccount:
    """Disable a user: it can no longer log in and its refresh tokens are revoked."""
    return await service.set_disabled(session, principal, user=user, disabled=True)


@router.post("/{user_id}/enable", response_model=UserPublic, summary="Enable a user",
             responses=problems(404))
async def enable_user(user: UserInScope, session: SessionDep, principal: Manager) -> UserAccount:
    """Enable a disabled user again (and clear any login lock)."""
    return await service.set_disabled(session, principal, user=user, disabled=False)
