"""Who may manage which users: roles at or below the caller's level, inside the caller's area."""

from services.kit.auth import Principal, Role

# The lengths an area code may have for each role.
AREA_LENGTHS: dict[Role, tuple[int, ...]] = {
    Role.admin: (2, 4, 6),
    Role.platform: (2, 4, 6),
    Role.county: (6,),
    Role.township: (9,),
    Role.village: (12,),
    Role.school: (6, 9),
}

# The roles each managing role may create, see and change.
MANAGES: dict[Role, frozenset[Role]] = {
    Role.admin: frozenset(Role),
    Role.county: frozenset({Role.county, Role.township, Role.school, Role.village}),
    Role.township: frozenset({Role.township, Role.school, Role.village}),
}

MANAGERS = tuple(MANAGES)


def area_problem(role: Role, area_code: str) -> str | None:
    """Return why an area code does not fit a role, or None."""
    lengths = AREA_LENGTHS[role]
    if not area_code.isascii() or not area_code.isdigit():
        return "must contain digits only"
    if len(area_code) not in lengths:
        return f"a {role} user needs a {' or '.join(map(str, lengths))}-digit area code"
    return None


def school_problem(role: Role, school_code: str | None) -> str | None:
    """Return why a school code does not fit a role, or None."""
    if role is Role.school:
        if not school_code:
            return "a school user needs a school_code"
        if len(school_code) != 10 or not school_code.isascii() or not school_code.isdigit():
            return "must be 10 digits"
    elif school_code is not None:
        return "only school users have a school_code"
    return None


def managed_roles(principal: Principal) -> frozenset[Role]:
    return MANAGES.get(principal.role, frozenset())


def may_manage(principal: Principal, *, role: Role, area_code: str) -> bool:
    """Return whether the caller may hold a user of this role in this area."""
    return role in managed_roles(principal) and principal.covers_area(area_code)
