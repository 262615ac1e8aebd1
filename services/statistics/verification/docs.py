"""The OpenAPI text of the verification endpoints: the finding kinds' definitions, the roster body."""

from services.statistics.verification.columns import STATUS_FORMAT
from services.statistics.verification.schemas import SEMESTER, RosterIn

DESCRIPTION = f"""\
Compare a roster of the poverty platform with the registry and the payments (比对). Either JSON
`{{"semester", "area_code"?, "rows": [{{"household_platform_id", "name", "id_number", "statuses",
"gender"?}}]}}`, or multipart `file` (CSV UTF-8/GB18030, or XLSX) with `semester` (and optionally
`area_code`). File columns: household_platform_id (户编号), name (姓名), id_number (身份证号),
statuses (户状态 / 状态: {STATUS_FORMAT}), gender (性别, optional). The job runs in the
background: poll `GET /api/v1/verifications/{{id}}`. Rows with errors (bad ID number, unknown
status, an ID number repeated) are listed in `errors` and left out; the rest are compared. Every
roster is kept as a new version of its area and semester.

Finding kinds (ages are full years on 1 September of the semester's school year):
- `missing_in_registry`: a roster child aged 3-18 whose ID number the registry lacks, with no likely match.
- `unknown_to_platform`: a registry student of the area, from a registered-poor, monitored, dibao or
  tekun household, not graduated, transferred out or deceased, whose ID number is not on the roster
  (nor likely matched by a roster row).
- `identity_mismatch`: the same ID number with another name or gender; or a roster row without an ID
  match whose name sounds like (pinyin similarity >= 0.8) a registry student not on the roster, of the
  same household (by platform id) or with the same birth date in the area: the likely match is the
  finding's student, with `similarity` (1 same characters, 0.95 same pinyin, 0.9 same up to
  zh/z ch/c sh/s l/n -ng/-n, else 0.85 x the pinyin's sequence ratio).
- `unpaid_eligible`: a roster child enrolled (or home-taught) in the registry, with a roster status or a
  registry aid category, and no paid disbursement this semester.
- `paid_ineligible`: a paid grant or living allowance this semester to a child with no registry aid
  category and no roster status.
- `paid_not_enrolled`: a paid disbursement this semester to a student whose status is not enrolled or
  home-taught, that status having begun on or before the census day (31 Mar / 30 Sep).
- `duplicate_payment`: a student paid this semester twice for one policy kind, or in two counties.
- `out_of_county_incomplete`: a student of the area studying out of county without province, county
  and school name all known.
- `not_in_school`: a roster child aged 6-15 enrolled nowhere (no enrolled, home-taught or out-of-county
  registry record, by ID number or likely match); also published as
  `edu.statistics.child.not_in_school` for the dropout service.
"""


def _inline(schema: dict) -> dict:
    """A model's JSON schema with its $defs put in place (the body is declared by hand, not by FastAPI)."""
    defs = schema.pop("$defs", {})

    def walk(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {k: walk(v) for k, v in node.items()}
        return [walk(v) for v in node] if isinstance(node, list) else node

    return walk(schema)


ROSTER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _inline(RosterIn.model_json_schema())},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "semester"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "semester": {"type": "string", "pattern": SEMESTER},
                        "area_code": {"type": "string", "pattern": r"^[0-9]{2,12}$"},
                    },
                }
            },
        },
    }
}
