"""Token endpoints (`/api/v1/auth/...`) and the public keys (`/.well-known/jwks.json`)."""

import base64
import binascii
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Depends, Form, Request, Response
from pydantic import ValidationError

from api_gateway.auth import service
from api_gateway.auth.revocations import document
from api_gateway.auth.schemas import Me, RefreshRequest, TokenForm, TokenResponse
from api_gateway.keys import KeyRing
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.errors import Invalid
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
wellknown = APIRouter(tags=["auth"])

GRANTS = ("password", "client_credentials")


def issuer(request: Request) -> service.Issuer:
    return service.Issuer(settings=request.app.state.settings, keyring=request.app.state.keyring,
                          request_id=getattr(request.state, "request_id", None),
                          client_ip=request.client.host if request.client else "unknown")


IssuerDep = Annotated[service.Issuer, Depends(issuer)]


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    """Return client_id and secret from HTTP Basic auth (RFC 6749 2.3.1), if sent."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        client_id, _, secret = base64.b64decode(value, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Invalid(["header", "Authorization"], "Malformed Basic credentials") from exc
    return unquote(client_id), unquote(secret)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise Invalid([name], f"{name} is required for this grant_type", code="missing")
    return value


@router.post("/token", response_model=TokenResponse, response_model_exclude_none=True,
             summary="Get an access token",
             responses={401: {"description": "Bad credentials"},
                        429: {"description": "Account locked or rate limited"}})
async def token(form: Annotated[TokenForm, Form()], request: Request, session: SessionDep,
                issuer: IssuerDep) -> TokenResponse:
    """Exchange a username and password (users) or client credentials (platform) for tokens.

    Send an `application/x-www-form-urlencoded` body. Clients may also send their
    credentials with HTTP Basic auth. Users also get a single-use `refresh_token`.
    """
    if form.grant_type == "password":
        return await service.password_login(
            session, issuer, username=_required(form.username, "username"),
            password=_required(form.password, "password"))
    if form.grant_type == "client_credentials":
        basic_id, basic_secret = _basic_credentials(request)
        return await service.client_login(
            session, issuer, client_id=_required(form.client_id or basic_id, "client_id"),
            client_secret=_required(form.client_secret or basic_secret, "client_secret"))
    raise Invalid(["grant_type"], f"grant_type must be one of {', '.join(GRANTS)}",
                  code="unsupported_grant_type")


async def refresh_token_body(request: Request) -> str:
    """Read `refresh_token` from a JSON body or a form."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            return RefreshRequest.model_validate_json(await request.body()).refresh_token
        except ValidationError as exc:
            raise Invalid(["refresh_token"], "refresh_token is required") from exc
    form = await request.form()
    return _required(str(form.get("refresh_token") or ""), "refresh_token")


RefreshBody = Annotated[str, Depends(refresh_token_body)]
_REFRESH_BODY: dict[str, Any] = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": RefreshRequest.model_json_schema(),
                         "example": {"refresh_token": "q8V0b1..."}},
    "application/x-www-form-urlencoded": {"schema": RefreshRequest.model_json_schema()},
}}}


@router.post("/refresh", response_model=TokenResponse, summary="Rotate a refresh token",
             openapi_extra=_REFRESH_BODY,
             responses=problems(422, _401="Unknown, expired or reused refresh token"))
async def refresh(refresh_token: RefreshBody, session: SessionDep, issuer: IssuerDep,
                  ) -> TokenResponse:
    """Exchange a refresh token for new tokens; the old refresh token stops working.

    Presenting an already used refresh token revokes every token of its login (401).
    """
    return await service.refresh(session, issuer, refresh_token=refresh_token)


@router.post("/logout", status_code=204, summary="Log out", openapi_extra=_REFRESH_BODY,
             responses=problems(422))
async def logout(refresh_token: RefreshBody, session: SessionDep, request: Request) -> Response:
    """End the login of a refresh token: it and every token rotated from it stop working.

    Access tokens of that login are revoked too: refused at once here and by every service
    within about two seconds (they fetch `/.well-known/revocations.json`).
    """
    await service.logout(session, refresh_token=refresh_token)
    await session.commit()
    request.app.state.verifier.revocations.invalidate()
    return Response(status_code=204)


@router.get("/me", response_model=Me, summary="Who am I")
async def me(principal: CurrentPrincipal) -> Me:
    """Return the caller as its token describes it."""
    return Me(id=principal.sub, username=principal.username, role=principal.role,
              area_code=principal.area_code, school_code=principal.school_code)


@wellknown.get("/.well-known/revocations.json", summary="Revoked sessions (for services)",
               responses={200: {"content": {"application/json": {"example": {
                   "sessions": ["0b6f7a52-5d0e-4a57-9c1e-2f1f5b1c9f3e"]}}}}})
async def revocations(request: Request, session: SessionDep, response: Response) -> dict[str, Any]:
    """Return the access tokens that must no longer pass, like a certificate revocation list.

    `sessions`: the `sid` claims of sessions ended by a logout, a replayed refresh token, a
    password change, or a disabled user or platform client. They are random ids: the list
    names no user or client. Only sessions an unexpired token could still carry are listed.
    Every service keeps a copy no older than a second or two and refuses such tokens with 401.
    """
    response.headers["Cache-Control"] = "no-store"
    lifetime = timedelta(minutes=request.app.state.settings.access_token_minutes)
    return await document(session, token_lifetime=lifetime)


@wellknown.get("/.well-known/jwks.json", summary="Public signing keys",
               responses={200: {"content": {"application/json": {"example": {"keys": [{
                   "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                   "kid": "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k", "use": "sig",
                   "alg": "EdDSA"}]}}}}})
async def jwks(request: Request, response: Response) -> dict[str, Any]:
    """Return the keys access tokens are signed with (EdDSA / Ed25519), by `kid`."""
    keyring: KeyRing = request.app.state.keyring
    response.headers["Cache-Control"] = "public, max-age=300"
    return keyring.jwks()
