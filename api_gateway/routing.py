"""Which service owns which path, and which paths a platform client may reach."""

from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden

API = "/api/v1"

# Path prefix (under /api/v1) -> owning service.
ROUTES: dict[str, str] = {
    "/areas": "registry",
    "/schools": "registry",
    "/households": "registry",
    "/students": "registry",
    "/imports": "registry",
    "/transfers": "registry",
    "/progression": "registry",
    "/subsidy": "subsidy",
    "/attendance": "dropout",
    "/dropout": "dropout",
    "/disability": "dropout",
    "/tasks": "dropout",
    "/evidence": "dropout",
    "/support": "dropout",
    "/stats": "statistics",
    "/verifications": "statistics",
    # Change feeds (services/kit/changes.py): one per resource family, each served by its owner.
    "/changes/students": "registry",
    "/changes/cases": "dropout",
    "/changes/disbursements": "subsidy",
}
# Prefixes whose owner depends on the second segment too (/changes/<family>).
NESTED = frozenset({"/changes"})

# What a platform client may reach: prefix -> allowed methods. Everything else is 403.
PLATFORM_ALLOWED: dict[str, frozenset[str]] = {
    "/stats": frozenset({"GET", "HEAD"}),
    "/verifications": frozenset({"GET", "HEAD", "POST"}),
    "/households": frozenset({"GET", "HEAD"}),
}
# ... and these exact operations beside (a bulk lookup is a read sent as POST: up to 1,000 keys).
PLATFORM_OPERATIONS: frozenset[tuple[str, str]] = frozenset({("POST", f"{API}/households/lookup")})


# Signed links (kit.storage.LinkSigner): forwarded without a token, the link's signature being the
# right to its one file; the owning service checks it (an expired or altered link: 403).
LINKS: dict[str, str] = {"/files/v1/evidence": "dropout"}


def link_service_for(path: str) -> str | None:
    """Return the service serving a signed-link path, or None."""
    return next((svc for prefix, svc in LINKS.items() if path.startswith(prefix + "/")), None)


def _prefix_of(path: str) -> str | None:
    if not path.startswith(API + "/"):
        return None
    parts = path[len(API) + 1:].split("/", 2)
    first = "/" + parts[0]
    if first in NESTED and len(parts) > 1:
        first += "/" + parts[1]
    return first if first in ROUTES else None


def service_for(path: str) -> str | None:
    """Return the service owning a path, or None."""
    prefix = _prefix_of(path)
    return ROUTES[prefix] if prefix else None


def check_route_access(principal: Principal, method: str, path: str) -> None:
    """Refuse (403) what the caller's role may never do, before the request leaves the gateway."""
    if principal.role is not Role.platform:
        return
    allowed = PLATFORM_ALLOWED.get(_prefix_of(path) or "", frozenset())
    if method.upper() not in allowed and (method.upper(), path.rstrip("/")) not in PLATFORM_OPERATIONS:
        raise Forbidden("Platform clients may not use this endpoint")
