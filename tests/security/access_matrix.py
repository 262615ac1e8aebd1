"""Who may call each operation of the API, and how the caller's scope applies — as plain data.

Derived from ../shared/DESIGN.md ("Access"), ../shared/API.md and the code (each route's
`require(...)`, the role checks in the services, `visible_to(...)` of every repository and the
gateway's `PLATFORM_ALLOWED`), not from what the running system answers.
`tests/security/test_access_matrix.py` calls every operation as every role, in scope and out of
scope, against this table.

An entry says:
- `roles`: the roles that may call the operation; every other role is refused with 403, unless
  `refused` names another answer for it (404: the role has no records of that kind, so nothing
  is ever in its scope; EMPTY: a list that answers 200 with no rows).
- `scope`: the rule that decides which records are the caller's (see SCOPES).
- `outside`: what an allowed role gets for a record (or a reference in the body) outside its
  scope: 404 for a record named in the path; for a reference in the body, the answer the
  service gives an unknown one (422 naming the field, with `code`), or 403 when the caller
  may not write there; EMPTY for a list asked about another area (200 without its rows; rows
  the caller sees anyway, such as a province's policies, may remain); ROWS for an import whose
  out-of-scope rows are refused one by one; None when the operation has nothing out of scope.
- `echo`: fields that repeat what callers of the area sent earlier (audited paths, import row
  errors); they may name another area's codes because a caller typed them.
- `sibling`: whether township, school and village users are also out of scope in the county's
  other township (True but for a school user's households, written county-wide).
- `never_shows`: what no answer may contain (FULL_ID: a full ID number, except when a role of
  `reveal` asks `?reveal=id_number`; FULL_NAME: a student's unmasked name).
"""

from dataclasses import dataclass, field

ROLES = ("admin", "county", "township", "school", "village", "platform")  # services.kit.auth.Role
ADMIN, COUNTY, TOWNSHIP, SCHOOL, VILLAGE, PLATFORM = ROLES
STAFF = frozenset({ADMIN, COUNTY, TOWNSHIP, SCHOOL, VILLAGE})
EVERYONE = frozenset(ROLES)
WRITERS = frozenset({ADMIN, COUNTY, SCHOOL})  # registry and dropout records (kit.auth.WRITERS)
CHIEFS = frozenset({ADMIN, COUNTY})
MANAGERS = frozenset({ADMIN, COUNTY, TOWNSHIP})  # users (api_gateway.users.policy.MANAGES)
BATCH_MAKERS = frozenset({ADMIN, COUNTY, TOWNSHIP, SCHOOL})
APPROVERS = frozenset({ADMIN, COUNTY, TOWNSHIP})
ROSTER_READERS = frozenset({ADMIN, COUNTY, TOWNSHIP, PLATFORM})
ROSTER_SUBMITTERS = frozenset({ADMIN, COUNTY, PLATFORM})
TRANSFER_READERS = frozenset({ADMIN, COUNTY, TOWNSHIP, SCHOOL})  # registry.transfers.service.READERS

EMPTY = "empty"  # 200 with no rows of the other area (refused roles: no rows at all)
ROWS = "rows"  # accepted; every out-of-scope row refused as a row error
FULL_ID = "full_id_number"
FULL_NAME = "full_name"

SCOPES = {
    "public": "No token needed; the caller's own credentials, nothing of an area.",
    "self": "The caller itself (its token).",
    "global": "The same for every allowed caller: nothing of an area.",
    "own_area": "Works on the caller's own area; there is no parameter to name another.",
    "area": "Areas: the caller's subtree and its ancestors; writes inside the subtree.",
    "school": "Schools by area; a school user its own school; a village user its township's.",
    "household": "Households by village inside the area; a school user those of its students.",
    "student": "By the student's school area; a school user its own school; a village user the "
    "students of households in its village. Records of a student (absences, cases, placements, "
    "sessions, notices, disbursements, risk) follow their student.",
    "import": "Import jobs of the caller, or of users inside its area (a school: its school's).",
    "policy": "Policies of the caller's area or of an area containing it; written inside it.",
    "batch": "Batches by the school's area; a school user its own school's.",
    "publicity": "Published batches by the school's area; a school its own; a village user those "
    "listing a child of its village, showing only those children.",
    "check": "Start-of-semester checks by the school's area; a school user its own school's.",
    "calendar": "The caller's area, an area inside it, or (reading) one containing it.",
    "task": "The caller's own to-dos: its role, inside its school, village or area (admin: all).",
    "figures": "Figures for an `area_code` inside the caller's area (default its own); a school "
    "user its own school, a village user its village.",
    "lock": "Year locks of the caller's area, of areas inside it or containing it.",
    "roster": "Platform and outside (公安/残联) rosters of the caller's area or containing it; findings "
    "inside its area.",
    "user": "Users inside the caller's area, at or below its level.",
    "client": "Platform clients inside the admin's area.",
    "audit": "Entries of actors inside the caller's area.",
    "campaign": "Visit months (集中走访月) of the caller's area, of areas inside it or containing it; "
    "written inside it.",
    "unit": "A school one of the caller's students attends, or a village or township inside its area.",
    "transfer": "Transfer requests into or out of the caller's area (a school user: its school); both "
    "ends see a request. Accepting and rejecting are the receiving end's, withdrawing the sending end's.",
}


@dataclass(frozen=True)
class Access:
    roles: frozenset[str]
    scope: str
    outside: int | str | None = 404
    code: str | None = None  # the problem's error code when `outside` is 422
    refused: dict[str, int | str] = field(default_factory=dict)
    never_shows: tuple[str, ...] = (FULL_ID,)
    reveal: frozenset[str] = frozenset()
    echo: tuple[str, ...] = ()  # fields repeating what callers of the area sent earlier
    sibling: bool = True  # a township, school or village user is out of scope in A's other township too
    note: str = ""


def _a(roles, scope, outside=404, **kw) -> Access:
    return Access(frozenset(roles), scope, outside, **kw)


FEED = "a change feed: no parameter names another area; only the caller's entries, scanned for county B's"
NOT_LISTED_422 = "a reference in the body outside the scope is answered as an unknown one"
OWN_CLIENT = "a platform client: its own webhooks only (any other client is 404)"
LOOKUP = "a bulk lookup: keys outside the scope are answered null, like unknown ones"

MATRIX: dict[tuple[str, str], Access] = {
    # Gateway: tokens, users, clients, audit, merged tasks.
    ("GET", "/.well-known/jwks.json"): _a(EVERYONE, "public", None),
    ("GET", "/.well-known/revocations.json"): _a(
        EVERYONE, "public", None, note="revoked sessions, for services"
    ),
    ("POST", "/api/v1/auth/token"): _a(EVERYONE, "public", None),
    ("POST", "/api/v1/auth/refresh"): _a(
        STAFF, "public", None, refused={PLATFORM: 401}, note="platform clients get no refresh token"
    ),
    ("POST", "/api/v1/auth/logout"): _a(EVERYONE, "public", None),
    ("GET", "/api/v1/meta/labels"): _a(EVERYONE, "public", None, note="the vocabularies' labels"),
    ("GET", "/api/v1/auth/me"): _a(EVERYONE, "self", None),
    ("GET", "/api/v1/users"): _a(MANAGERS, "user", EMPTY),
    ("POST", "/api/v1/users"): _a(
        MANAGERS,
        "user",
        403,
        note="may_manage: an area outside the caller's is 403; a school user of a school outside it "
        "(in the caller's own area code) is 422 unknown_school, as for an unknown school",
    ),
    ("GET", "/api/v1/users/{user_id}"): _a(MANAGERS, "user"),
    ("PATCH", "/api/v1/users/{user_id}"): _a(
        MANAGERS, "user", note="a school outside the caller's area given to a school user: 422 unknown_school"
    ),
    ("POST", "/api/v1/users/{user_id}/disable"): _a(MANAGERS, "user"),
    ("POST", "/api/v1/users/{user_id}/enable"): _a(MANAGERS, "user"),
    ("GET", "/api/v1/clients"): _a({ADMIN}, "client", None),
    ("POST", "/api/v1/clients"): _a({ADMIN}, "client", 403),
    ("POST", "/api/v1/clients/{client_id}/disable"): _a({ADMIN}, "client"),
    ("POST", "/api/v1/clients/{client_id}/enable"): _a({ADMIN}, "client"),
    ("POST", "/api/v1/clients/{client_id}/secret"): _a({ADMIN}, "client"),
    ("POST", "/api/v1/clients/{client_id}/webhooks"): _a({ADMIN}, "client"),
    ("GET", "/api/v1/clients/{client_id}/webhooks"): _a({ADMIN, PLATFORM}, "client", note=OWN_CLIENT),
    ("POST", "/api/v1/clients/{client_id}/webhooks/{webhook_id}/disable"): _a({ADMIN}, "client"),
    ("GET", "/api/v1/clients/{client_id}/webhooks/{webhook_id}/deliveries"): _a(
        {ADMIN, PLATFORM}, "client", note=OWN_CLIENT
    ),
    ("GET", "/api/v1/audit"): _a(CHIEFS, "audit", EMPTY, echo=("path", "target_id")),
    ("GET", "/api/v1/tasks"): _a(STAFF, "task", EMPTY),
    # Registry.
    ("GET", "/api/v1/areas"): _a(STAFF, "area", EMPTY),
    ("POST", "/api/v1/areas"): _a(CHIEFS, "area", 403),
    ("GET", "/api/v1/areas/{code}"): _a(STAFF, "area"),
    ("PATCH", "/api/v1/areas/{code}"): _a(CHIEFS, "area"),
    ("GET", "/api/v1/schools"): _a(STAFF, "school", EMPTY),
    ("POST", "/api/v1/schools"): _a(CHIEFS, "school", 403),
    ("GET", "/api/v1/schools/{code}"): _a(STAFF, "school"),
    ("PATCH", "/api/v1/schools/{code}"): _a(CHIEFS, "school"),
    ("GET", "/api/v1/households"): _a(STAFF | {PLATFORM}, "household", EMPTY),
    ("POST", "/api/v1/households"): _a(
        WRITERS,
        "household",
        422,
        code="out_of_scope",
        sibling=False,
        note=f"{NOT_LISTED_422}; a school user writes households anywhere in its county",
    ),
    ("GET", "/api/v1/households/{household_id}"): _a(STAFF | {PLATFORM}, "household"),
    ("POST", "/api/v1/households/lookup"): _a(STAFF | {PLATFORM}, "household", EMPTY, note=LOOKUP),
    ("POST", "/api/v1/students/lookup"): _a(STAFF, "student", EMPTY, note=LOOKUP),
    ("PATCH", "/api/v1/households/{household_id}"): _a(WRITERS, "household"),
    ("GET", "/api/v1/students"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/students"): _a(WRITERS, "student", 422, code="unknown_school", note=NOT_LISTED_422),
    ("GET", "/api/v1/students/{student_id}"): _a(
        STAFF,
        "student",
        reveal=frozenset({COUNTY, SCHOOL}),
        note="?reveal=id_number: county and school users only (403 for the others), audited",
    ),
    ("PATCH", "/api/v1/students/{student_id}"): _a(WRITERS, "student"),
    ("POST", "/api/v1/students/{student_id}/enrollment-changes"): _a(WRITERS, "student"),
    ("GET", "/api/v1/students/{student_id}/history"): _a(
        STAFF, "student", note="also the steps at the caller's schools/villages of a student gone elsewhere"
    ),
    ("GET", "/api/v1/progression"): _a(
        STAFF, "student", EMPTY, note="graduates of the caller's schools or villages (升学, 两后生)"
    ),
    ("GET", "/api/v1/imports"): _a(STAFF, "import", EMPTY, echo=("errors",)),
    ("POST", "/api/v1/imports"): _a(
        WRITERS, "student", ROWS, note="kind=students; rows follow POST /students"
    ),
    ("GET", "/api/v1/imports/templates/{kind}"): _a(STAFF, "global", None),
    ("GET", "/api/v1/imports/{job_id}"): _a(
        BATCH_MAKERS,
        "import",
        refused={VILLAGE: 404, PLATFORM: 403},
        note="village users may not import, so no job is ever theirs",
    ),
    # Transfer requests into another county's school (registry.transfers): C→A and A→C are in A's
    # scope, B→C is not.
    ("GET", "/api/v1/transfers"): _a(
        TRANSFER_READERS, "transfer", None, note="no parameter names another area: the rows are checked"
    ),
    ("GET", "/api/v1/transfers/{transfer_id}"): _a(TRANSFER_READERS, "transfer"),
    ("POST", "/api/v1/transfers/{transfer_id}/accept"): _a(WRITERS, "transfer", note="the receiving end"),
    ("POST", "/api/v1/transfers/{transfer_id}/reject"): _a(WRITERS, "transfer", note="the receiving end"),
    ("POST", "/api/v1/transfers/{transfer_id}/cancel"): _a(WRITERS, "transfer", note="the sending end"),
    # Subsidy.
    ("GET", "/api/v1/subsidy/policies"): _a(STAFF, "policy", EMPTY),
    ("POST", "/api/v1/subsidy/policies"): _a(CHIEFS, "policy", 422, code="out_of_scope", note=NOT_LISTED_422),
    ("GET", "/api/v1/subsidy/policies/{code}"): _a(STAFF, "policy"),
    ("PATCH", "/api/v1/subsidy/policies/{code}"): _a(CHIEFS, "policy"),
    ("GET", "/api/v1/subsidy/batches"): _a(BATCH_MAKERS, "batch", EMPTY),
    ("POST", "/api/v1/subsidy/batches"): _a(
        BATCH_MAKERS, "batch", 422, code="unknown_school", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/subsidy/batches/{batch_id}"): _a(BATCH_MAKERS, "batch"),
    ("GET", "/api/v1/subsidy/batches/{batch_id}/roster"): _a(BATCH_MAKERS, "batch", never_shows=(FULL_ID,)),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/regenerate"): _a(BATCH_MAKERS, "batch"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/submit"): _a({SCHOOL}, "batch"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/approve"): _a(
        APPROVERS, "batch", note="township first, then county"
    ),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/reject"): _a(APPROVERS, "batch"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/pay"): _a(CHIEFS, "batch"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/cancel"): _a({ADMIN, COUNTY, SCHOOL}, "batch"),
    ("GET", "/api/v1/subsidy/batches/{batch_id}/objections"): _a(STAFF, "publicity"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/objections"): _a(STAFF, "publicity"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/objections/{objection_id}/resolve"): _a(
        APPROVERS, "publicity"
    ),
    ("GET", "/api/v1/subsidy/batches/{batch_id}/publicity"): _a(
        STAFF, "publicity", never_shows=(FULL_ID, FULL_NAME)
    ),
    ("GET", "/api/v1/subsidy/publicity"): _a(STAFF, "publicity", None, never_shows=(FULL_ID, FULL_NAME)),
    ("GET", "/api/v1/subsidy/disbursements"): _a(STAFF, "student", EMPTY),
    ("GET", "/api/v1/changes/disbursements"): _a(STAFF, "student", None, note=FEED),
    ("GET", "/api/v1/subsidy/payees"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/subsidy/payees"): _a(WRITERS, "student"),
    ("GET", "/api/v1/subsidy/payees/{payee_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/subsidy/payees/{payee_id}"): _a(WRITERS, "student"),
    ("GET", "/api/v1/subsidy/batches/{batch_id}/payment-file"): _a(
        {COUNTY}, "batch", note="whole account numbers: audited as a reveal, refused on the service port"
    ),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/returns"): _a(CHIEFS, "batch"),
    ("POST", "/api/v1/subsidy/batches/{batch_id}/reconciliation"): _a(CHIEFS, "batch"),
    ("GET", "/api/v1/subsidy/batches/{batch_id}/reconciliation"): _a(BATCH_MAKERS, "batch"),
    ("GET", "/api/v1/subsidy/aid-elsewhere"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/subsidy/aid-elsewhere"): _a(WRITERS, "student"),
    ("GET", "/api/v1/subsidy/aid-elsewhere/{aid_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/subsidy/aid-elsewhere/{aid_id}"): _a(WRITERS, "student"),
    ("GET", "/api/v1/subsidy/hardship"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/subsidy/hardship"): _a(WRITERS, "student", note="the school proposes (the county may)"),
    ("GET", "/api/v1/subsidy/hardship/{hardship_id}"): _a(STAFF, "student"),
    ("POST", "/api/v1/subsidy/hardship/{hardship_id}/submit"): _a(WRITERS, "student"),
    ("POST", "/api/v1/subsidy/hardship/{hardship_id}/approve"): _a(
        APPROVERS, "student", note="township first, then county (after the public notice)"
    ),
    ("POST", "/api/v1/subsidy/hardship/{hardship_id}/reject"): _a(APPROVERS, "student"),
    ("POST", "/api/v1/subsidy/hardship/{hardship_id}/revoke"): _a(CHIEFS, "student"),
    ("GET", "/api/v1/subsidy/loans"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/subsidy/loans"): _a(WRITERS, "student"),
    ("GET", "/api/v1/subsidy/loans/{loan_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/subsidy/loans/{loan_id}"): _a(WRITERS, "student"),
    ("POST", "/api/v1/subsidy/history-imports"): _a(
        CHIEFS, "own_area", None, note="rows naming a school or policy outside the area are row errors"
    ),
    ("GET", "/api/v1/subsidy/notices"): _a(STAFF, "student", EMPTY, note="bulk notices of a village or school"),
    ("GET", "/api/v1/subsidy/notices/{student_id}"): _a(STAFF, "student"),
    ("POST", "/api/v1/subsidy/notices/{student_id}/acknowledge"): _a({SCHOOL, VILLAGE}, "student"),
    ("GET", "/api/v1/subsidy/tasks"): _a(STAFF, "task", None),
    # Dropout monitoring.
    ("GET", "/api/v1/attendance/absences"): _a(STAFF, "student", EMPTY),
    ("GET", "/api/v1/changes/cases"): _a(STAFF, "student", None, note=FEED),
    ("GET", "/api/v1/changes/students"): _a(STAFF, "student", None, note=FEED),
    ("POST", "/api/v1/attendance/absences"): _a(
        WRITERS, "student", note="a single absence: 404 out of scope"
    ),
    ("GET", "/api/v1/disability/home-teaching-sessions"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/disability/home-teaching-sessions"): _a(
        WRITERS, "student", 422, code="unknown_student", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/disability/placements"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/disability/placements"): _a(
        WRITERS, "student", 422, code="unknown_student", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/disability/placements/{placement_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/disability/placements/{placement_id}"): _a(WRITERS, "student"),
    ("GET", "/api/v1/dropout/calendar/{year}"): _a(STAFF, "calendar"),
    ("PUT", "/api/v1/dropout/calendar/{year}"): _a(CHIEFS, "calendar"),
    ("GET", "/api/v1/dropout/cases"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/dropout/cases"): _a(
        WRITERS, "student", 422, code="unknown_student", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/dropout/cases/{case_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/dropout/cases/{case_id}"): _a(
        BATCH_MAKERS, "student", note="village users record actions, not edits"
    ),
    ("POST", "/api/v1/dropout/cases/{case_id}/actions"): _a(
        STAFF, "student", note="village: contact, home visit, persuasion"
    ),
    ("POST", "/api/v1/dropout/checks/run"): _a(CHIEFS, "own_area", None),
    ("GET", "/api/v1/dropout/risk"): _a(STAFF, "student", EMPTY),
    ("GET", "/api/v1/dropout/verifications"): _a(BATCH_MAKERS, "check", EMPTY, refused={VILLAGE: EMPTY}),
    ("POST", "/api/v1/dropout/verifications"): _a(
        WRITERS, "check", 422, code="unknown_school", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/dropout/verifications/{verification_id}"): _a(
        BATCH_MAKERS, "check", refused={VILLAGE: 404, PLATFORM: 403}
    ),
    ("POST", "/api/v1/dropout/verifications/{verification_id}/results"): _a(
        WRITERS, "check", refused={VILLAGE: 404, TOWNSHIP: 403, PLATFORM: 403}
    ),
    ("POST", "/api/v1/tasks/{task_id}/complete"): _a(STAFF, "task"),
    # Support (结对帮扶) and the responsibility system (双线控辍), in the dropout service.
    ("GET", "/api/v1/support/pairings"): _a(STAFF, "student", EMPTY),
    ("POST", "/api/v1/support/pairings"): _a(
        STAFF, "student", 422, code="unknown_student", note=NOT_LISTED_422
    ),
    ("GET", "/api/v1/support/pairings/{pairing_id}"): _a(STAFF, "student"),
    ("PATCH", "/api/v1/support/pairings/{pairing_id}"): _a(STAFF, "student"),
    ("GET", "/api/v1/support/pairings/{pairing_id}/records"): _a(STAFF, "student"),
    ("POST", "/api/v1/support/pairings/{pairing_id}/records"): _a(
        STAFF, "student", note="village users: for children of their village"
    ),
    ("GET", "/api/v1/support/campaigns"): _a(STAFF, "campaign", EMPTY),
    ("POST", "/api/v1/support/campaigns"): _a(MANAGERS, "campaign", 422, code="out_of_scope"),
    ("GET", "/api/v1/support/campaigns/{campaign_id}"): _a(STAFF, "campaign"),
    ("GET", "/api/v1/support/rate"): _a(STAFF, "figures"),
    ("GET", "/api/v1/dropout/students/{student_id}/responsible"): _a(STAFF, "student"),
    ("PUT", "/api/v1/dropout/students/{student_id}/responsible"): _a(
        BATCH_MAKERS, "student", note="a school user: the education line only"
    ),
    ("POST", "/api/v1/dropout/students/{student_id}/responsibility-letters"): _a(BATCH_MAKERS, "student"),
    ("PUT", "/api/v1/dropout/responsible-defaults"): _a(
        BATCH_MAKERS, "unit", 422, code="unknown_school", note="a school: known by a student in scope"
    ),
    ("GET", "/api/v1/dropout/cases/{case_id}/legal-steps"): _a(STAFF, "student"),
    ("POST", "/api/v1/dropout/cases/{case_id}/legal-steps"): _a(BATCH_MAKERS, "student"),
    ("GET", "/api/v1/dropout/cases/{case_id}/legal-steps/{step_id}/notice"): _a(STAFF, "student"),
    # Outside rosters (联控联保) and evidence files (佐证材料), issue 15.
    ("GET", "/api/v1/dropout/rosters"): _a(APPROVERS, "roster", EMPTY),
    ("POST", "/api/v1/dropout/rosters"): _a(
        APPROVERS, "roster", 422, code="out_of_scope", note="area_code outside the caller's area"
    ),
    ("GET", "/api/v1/dropout/rosters/{roster_id}"): _a(APPROVERS, "roster"),
    ("GET", "/api/v1/dropout/rosters/{roster_id}/findings"): _a(APPROVERS, "roster"),
    ("POST", "/api/v1/evidence"): _a(
        STAFF, "student", 422, code="unknown_student", note=f"{NOT_LISTED_422} (the file's student_id)"
    ),
    ("GET", "/api/v1/evidence/{evidence_id}"): _a(STAFF, "student", note="where its student is seen"),
    ("GET", "/files/v1/evidence/{evidence_id}"): _a(
        EVERYONE, "public", None, note="a signed link: no token, this one file, a few minutes"
    ),
    # Statistics and verification.
    ("GET", "/api/v1/stats/coverage"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/disability"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/dropout"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/enrollment"): _a(STAFF | {PLATFORM}, "figures"),
    # By the child's home village (a village cadre's own children), its school for a school user.
    ("GET", "/api/v1/stats/ledger"): _a(STAFF, "student", note="the village ledger names children: no platform"),
    ("GET", "/api/v1/stats/rates"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/subsidy"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/verification"): _a(STAFF | {PLATFORM}, "figures"),
    ("GET", "/api/v1/stats/locks"): _a(STAFF | {PLATFORM}, "lock", None),
    ("POST", "/api/v1/stats/locks"): _a(CHIEFS, "lock"),
    ("GET", "/api/v1/stats/locks/{year}/held"): _a(CHIEFS, "lock", None),
    # Deployment-wide admins only (area of 2 digits, statistics.rebuild_routes): A's admin is refused.
    ("GET", "/api/v1/stats/rebuild"): _a(frozenset(), "global", None, note="deployment-wide admins only"),
    ("POST", "/api/v1/stats/rebuild"): _a(
        frozenset(), "global", None, note="deployment-wide replay: deployment-wide admins only; called last"
    ),
    ("POST", "/api/v1/stats/rebuild/rollups"): _a(frozenset(), "global", None, note="deployment-wide admins only"),
    ("GET", "/api/v1/verifications"): _a(ROSTER_READERS, "roster", EMPTY),
    ("POST", "/api/v1/verifications"): _a(
        ROSTER_SUBMITTERS,
        "roster",
        422,
        code="invalid",
        note="requested_area: area_code outside the caller's area",
    ),
    ("GET", "/api/v1/verifications/households/{platform_id}"): _a(ROSTER_READERS, "household"),
    ("GET", "/api/v1/verifications/{job_id}"): _a(ROSTER_READERS, "roster"),
    ("GET", "/api/v1/verifications/{job_id}/findings"): _a(ROSTER_READERS, "roster"),
    ("POST", "/api/v1/verifications/{job_id}/findings/{finding_id}/resolve"): _a(CHIEFS, "roster"),
    # Ops: every service's consumers and dead letters, merged at the gateway (kit.ops, api_gateway.ops).
    ("GET", "/api/v1/ops/consumers"): _a({ADMIN}, "global", None),
    ("GET", "/api/v1/ops/dead-letters"): _a({ADMIN}, "global", None),
    ("POST", "/api/v1/ops/dead-letters/{letter_id}/replay"): _a(
        {ADMIN}, "global", None, note="a letter of an event already applied: the replay only closes it"
    ),
    ("POST", "/api/v1/ops/dead-letters/{letter_id}/resolve"): _a({ADMIN}, "global", None),
}


def expected_refusal(access: Access, role: str) -> int | str:
    """What a role not allowed gets: 403, or what `refused` says."""
    return access.refused.get(role, 403)


def size() -> tuple[int, int]:
    """(operations, operations × roles × {in scope, out of scope})."""
    return len(MATRIX), len(MATRIX) * len(ROLES) * 2
