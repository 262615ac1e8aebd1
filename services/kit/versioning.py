"""Optimistic concurrency: PATCH carries `version` (or `If-Match`); a stale one gets 409."""

from typing import Annotated

from fastapi import Header

from services.kit.errors import Invalid, StaleVersion

IfMatch = Annotated[str | None, Header(alias="If-Match", description="The version being updated.")]


def expected_version(body_version: int | None, if_match: str | None) -> int:
    """Return the version the client claims to update, from the body or If-Match."""
    if body_version is not None:
        return body_version
    if if_match:
        try:
            return int(if_match.strip().strip("W/").strip('"'))
        except ValueError as exc:
            raise Invalid(["header", "If-Match"], "If-Match must be a version number") from exc
    raise Invalid(["version"], "version is required (in the body or If-Match)", code="missing")


def check_version(current: int, body_version: int | None, if_match: str | None) -> None:
    """Raise StaleVersion unless the client updates the current version."""
    if expected_version(body_version, if_match) != current:
        raise StaleVersion(current)
