# ruff: noqa: S608 - statements are built from constants only; every value is a bound parameter
"""The comparison in SQL: one set-based statement per finding kind over the loaded roster.

Temporary tables of the job's transaction:
  vr  the roster's valid rows (COPY), then vm = vr + the registry student with the same ID hash;
  vu  registry students of the area whose ID the roster does not carry ("unclaimed");
  vp  the semester's paid disbursements (all areas: duplicates across counties), `here` = in the area;
  vf  likely matches of unmatched rows (by pinyin, computed in Python), vs name similarities.
A child whose aid of the semester another county or province paid (aid_elsewhere_fact) is covered:
never "unpaid eligible".
Parameters by name (:v verification id, :area roster area, :sem semester, :ref 1 September of the
school year, :census census day); `bind` turns them into asyncpg's $n.
"""

import re

ACTIVE = "('enrolled', 'home_taught')"
IN_SCHOOL = "('enrolled', 'home_taught', 'out_of_county')"
GONE = "('graduated', 'transferred_out', 'deceased')"
POOR = "ARRAY['registered_poor', 'monitored', 'dibao', 'tekun']::text[]"
# Need-based kinds: a payment of these to a child no one gives an aid category is suspect. Scholarships
# (merit), loans and waivers (universal in some stages) are not judged. `here`: paid inside the area
# (a column, so the planner counts it right after ANALYZE).
NEED_BASED = "('grant', 'living_allowance')"
IN_AREA = (
    "(starts_with(coalesce({t}.village_code, ''), :area::text)"
    " OR starts_with(coalesce({t}.area_code, ''), :area::text))"
)

_NAME = re.compile(r"(?<![:\w]):([a-z_]+)")


def bind(sql: str, **params) -> tuple[str, list]:
    """Replace :name placeholders by $n (in order of first use); return the statement and its args (extra
    params are ignored)."""
    order: list[str] = []

    def _sub(m: re.Match) -> str:
        if m.group(1) not in order:
            order.append(m.group(1))
        return f"${order.index(m.group(1)) + 1}"

    return _NAME.sub(_sub, sql), [params[n] for n in order]


CREATE_VR = """
CREATE TEMP TABLE vr (
  row_number int, household_platform_id text, name text, declared_gender text, id_number_hash text,
  id_number_masked text, birth_date date, gender text, statuses text[]
) ON COMMIT DROP"""

# One full join gives both the roster rows with their registry student (if any) and the registry students
# of the area the roster does not carry; the latter move to vu.
CREATE_VM = f"""
CREATE TEMP TABLE vm ON COMMIT DROP AS
SELECT r.*, s.student_id, s.name AS s_name, s.gender AS s_gender, s.status AS s_status,
       s.categories::text[] AS s_categories, s.school_code AS s_school, s.stage AS s_stage,
       s.village_code AS s_village, s.area_code AS s_area, s.id_number_masked AS s_masked,
       s.birth_date AS s_birth, s.household_id AS s_household
FROM vr r FULL JOIN statistics.student_fact s ON s.id_number_hash = r.id_number_hash
WHERE r.row_number IS NOT NULL OR {IN_AREA.format(t="s")}"""

CREATE_VU = """
CREATE TEMP TABLE vu ON COMMIT DROP AS
SELECT student_id, s_name AS name, s_gender AS gender, s_birth AS birth_date, s_household AS household_id,
       s_masked AS id_number_masked, s_status AS status, s_categories AS categories, s_school AS school_code,
       s_stage AS stage, s_village AS village_code, s_area AS area_code
FROM vm WHERE row_number IS NULL;
DELETE FROM vm WHERE row_number IS NULL"""

# Statistics only on the columns the finding kinds join and filter on: a full ANALYZE of the roster's
# many text columns cost about six times as much (0.34 s against 0.06 s at 200,000 rows) and no plan
# reads those columns' statistics (name <> s_name, cardinality(...) take default selectivities anyway).
ANALYZE_VM = "ANALYZE vm (row_number, student_id, s_status, birth_date, household_platform_id)"
ANALYZE_VP = "ANALYZE vp (student_id, policy_kind, here)"

CREATE_VF = """
CREATE TEMP TABLE vf (row_number int, student_id uuid, score numeric, via text) ON COMMIT DROP;
CREATE TEMP TABLE vs (row_number int, score numeric) ON COMMIT DROP"""

CREATE_VP = f"""
CREATE TEMP TABLE vp ON COMMIT DROP AS
SELECT p.disbursement_id, p.student_id, p.policy_code, p.policy_kind, p.amount_fen, p.school_code,
       p.area_code, p.village_code, p.categories::text[] AS categories, {IN_AREA.format(t="p")} AS here
FROM statistics.payment_fact p WHERE p.semester = :sem::text AND p.status = 'paid'"""

CANDIDATES = """
WITH u AS (SELECT row_number, name, household_platform_id, birth_date FROM vm WHERE student_id IS NULL)
SELECT u.row_number, u.name, s.student_id::text, s.name, 'household'
FROM u JOIN statistics.household_fact h ON h.platform_id = u.household_platform_id
JOIN vu s ON s.household_id = h.household_id AND char_length(s.name) = char_length(u.name)
UNION ALL
SELECT u.row_number, u.name, s.student_id::text, s.name, 'birth_date'
FROM u JOIN vu s ON s.birth_date = u.birth_date AND char_length(s.name) = char_length(u.name)"""

NAME_MISMATCHES = "SELECT row_number, name, s_name FROM vm WHERE student_id IS NOT NULL AND name <> s_name"

INSERT = """
INSERT INTO statistics.verification_finding
  (verification_id, kind, student_id, row_number, household_platform_id, area_code, details)"""

HOUSEHOLD_AREA = """LEFT JOIN LATERAL (
  SELECT h.area_code FROM statistics.household_fact h WHERE h.platform_id = m.household_platform_id
  ORDER BY h.household_id LIMIT 1) h ON true"""

AGE = "date_part('year', age(:ref::date, m.birth_date))::int"

KINDS: dict[str, str] = {}

KINDS["identity_mismatch"] = f"""{INSERT}
SELECT :v::uuid, 'identity_mismatch', m.student_id, m.row_number, m.household_platform_id,
  coalesce(m.s_village, m.s_area, :area::text),
  jsonb_build_object(
    'match', 'id_number',
    'fields', to_jsonb(array_remove(ARRAY[
      CASE WHEN m.name <> m.s_name THEN 'name' END,
      CASE WHEN coalesce(m.declared_gender, m.gender) <> m.s_gender THEN 'gender' END], NULL)),
    'similarity', vs.score,
    'roster', jsonb_build_object('name', m.name, 'gender', coalesce(m.declared_gender, m.gender),
                                 'id_number_masked', m.id_number_masked),
    'registry', jsonb_build_object('name', m.s_name, 'gender', m.s_gender, 'id_number_masked', m.s_masked))
FROM vm m LEFT JOIN vs ON vs.row_number = m.row_number
WHERE m.student_id IS NOT NULL
  AND (m.name <> m.s_name OR coalesce(m.declared_gender, m.gender) <> m.s_gender)
UNION ALL
SELECT :v::uuid, 'identity_mismatch', s.student_id, m.row_number, m.household_platform_id,
  coalesce(s.village_code, s.area_code, :area::text),
  jsonb_build_object(
    'match', f.via,
    'fields', to_jsonb(array_remove(ARRAY['id_number',
      CASE WHEN m.name <> s.name THEN 'name' END,
      CASE WHEN coalesce(m.declared_gender, m.gender) <> s.gender THEN 'gender' END], NULL)),
    'similarity', f.score,
    'roster', jsonb_build_object('name', m.name, 'gender', coalesce(m.declared_gender, m.gender),
                                 'id_number_masked', m.id_number_masked, 'birth_date', m.birth_date),
    'registry', jsonb_build_object('name', s.name, 'gender', s.gender, 'id_number_masked', s.id_number_masked,
                                   'birth_date', s.birth_date))
FROM vf f JOIN vm m ON m.row_number = f.row_number JOIN vu s ON s.student_id = f.student_id"""

KINDS["missing_in_registry"] = f"""{INSERT}
SELECT :v::uuid, 'missing_in_registry', NULL::uuid, m.row_number, m.household_platform_id,
  coalesce(h.area_code, :area::text),
  jsonb_build_object('name', m.name, 'id_number_masked', m.id_number_masked, 'birth_date', m.birth_date,
    'gender', m.gender, 'age', {AGE}, 'statuses', to_jsonb(m.statuses),
    'household_known', h.area_code IS NOT NULL)
FROM vm m {HOUSEHOLD_AREA}
WHERE m.student_id IS NULL
  AND m.birth_date > :ref::date - interval '19 years' AND m.birth_date <= :ref::date - interval '3 years'
  AND NOT EXISTS (SELECT 1 FROM vf WHERE vf.row_number = m.row_number)"""

KINDS["unknown_to_platform"] = f"""{INSERT}
SELECT :v::uuid, 'unknown_to_platform', s.student_id, NULL::int, h.platform_id,
  coalesce(s.village_code, s.area_code),
  jsonb_build_object('name', s.name, 'id_number_masked', s.id_number_masked, 'gender', s.gender,
    'birth_date', s.birth_date, 'categories', to_jsonb(s.categories), 'status', s.status,
    'school_code', s.school_code, 'stage', s.stage, 'household_platform_id', h.platform_id)
FROM vu s LEFT JOIN statistics.household_fact h ON h.household_id = s.household_id
WHERE s.categories && {POOR} AND s.status NOT IN {GONE}
  AND NOT EXISTS (SELECT 1 FROM vf WHERE vf.student_id = s.student_id)"""

KINDS["unpaid_eligible"] = f"""{INSERT}
SELECT :v::uuid, 'unpaid_eligible', m.student_id, m.row_number, m.household_platform_id,
  coalesce(m.s_village, m.s_area, :area::text),
  jsonb_build_object('name', m.s_name, 'id_number_masked', m.s_masked, 'school_code', m.s_school,
    'stage', m.s_stage, 'status', m.s_status, 'categories', to_jsonb(m.s_categories),
    'roster_statuses', to_jsonb(m.statuses), 'semester', :sem::text)
FROM vm m
WHERE m.student_id IS NOT NULL AND m.s_status IN {ACTIVE}
  AND (cardinality(m.statuses) > 0 OR cardinality(m.s_categories) > 0)
  AND NOT EXISTS (SELECT 1 FROM vp WHERE vp.student_id = m.student_id)
  AND NOT EXISTS (SELECT 1 FROM statistics.aid_elsewhere_fact a
                  WHERE a.student_id = m.student_id AND a.semester = :sem::text AND NOT a.cancelled)"""

PAYMENT = """'disbursement_id', p.disbursement_id, 'policy_code', p.policy_code, 'policy_kind', p.policy_kind,
    'amount_fen', p.amount_fen, 'school_code', p.school_code, 'semester', :sem::text"""

KINDS["paid_ineligible"] = f"""{INSERT}
SELECT :v::uuid, 'paid_ineligible', p.student_id, m.row_number, m.household_platform_id,
  coalesce(p.village_code, p.area_code),
  jsonb_build_object({PAYMENT}, 'name', s.name, 'id_number_masked', s.id_number_masked,
    'categories', to_jsonb(coalesce(s.categories::text[], '{{}}')),
    'categories_at_payment', to_jsonb(p.categories),
    'in_roster', m.row_number IS NOT NULL, 'roster_statuses', to_jsonb(m.statuses))
FROM vp p LEFT JOIN statistics.student_fact s ON s.student_id = p.student_id
LEFT JOIN vm m ON m.student_id = p.student_id
WHERE p.here AND p.policy_kind IN {NEED_BASED}
  AND cardinality(coalesce(s.categories, '{{}}')) = 0 AND cardinality(coalesce(m.statuses, '{{}}')) = 0"""

KINDS["paid_not_enrolled"] = f"""{INSERT}
SELECT :v::uuid, 'paid_not_enrolled', p.student_id, NULL::int, NULL, coalesce(p.village_code, p.area_code),
  jsonb_build_object({PAYMENT}, 'name', s.name, 'id_number_masked', s.id_number_masked,
    'status', s.status, 'status_since', e.valid_from)
FROM vp p JOIN statistics.student_fact s ON s.student_id = p.student_id
LEFT JOIN LATERAL (
  SELECT e.valid_from FROM statistics.enrollment_span e
  WHERE e.student_id = p.student_id AND e.valid_to IS NULL ORDER BY e.valid_from DESC LIMIT 1) e ON true
WHERE p.here AND s.status NOT IN {ACTIVE}
  AND (e.valid_from IS NULL OR e.valid_from <= :census::date)"""

KINDS["duplicate_payment"] = f"""{INSERT}
WITH multi AS (SELECT student_id FROM vp GROUP BY student_id HAVING count(*) > 1),
lines AS (SELECT p.* FROM vp p JOIN multi USING (student_id)),
agg AS (
  SELECT student_id, bool_or(here) AS here,
    array_agg(DISTINCT left(area_code, 6) ORDER BY left(area_code, 6)) AS counties,
    min(coalesce(village_code, area_code)) AS place,
    jsonb_agg(jsonb_build_object('disbursement_id', disbursement_id, 'policy_code', policy_code,
      'policy_kind', policy_kind, 'school_code', school_code, 'area_code', area_code,
      'amount_fen', amount_fen)
      ORDER BY policy_kind, policy_code, disbursement_id) AS payments
  FROM lines GROUP BY student_id),
same AS (
  SELECT student_id, array_agg(policy_kind ORDER BY policy_kind) AS kinds
  FROM (SELECT student_id, policy_kind FROM lines GROUP BY 1, 2 HAVING count(*) > 1) k GROUP BY student_id)
SELECT :v::uuid, 'duplicate_payment', a.student_id, m.row_number, m.household_platform_id,
  coalesce(s.village_code, s.area_code, a.place),
  jsonb_build_object('name', s.name, 'id_number_masked', s.id_number_masked, 'semester', :sem::text,
    'reasons', to_jsonb(array_remove(ARRAY[
      CASE WHEN k.kinds IS NOT NULL THEN 'same_policy_kind' END,
      CASE WHEN cardinality(a.counties) > 1 THEN 'two_counties' END], NULL)),
    'policy_kinds', to_jsonb(coalesce(k.kinds, '{{}}')), 'counties', to_jsonb(a.counties),
    'payments', a.payments)
FROM agg a LEFT JOIN same k USING (student_id)
LEFT JOIN statistics.student_fact s ON s.student_id = a.student_id
LEFT JOIN vm m ON m.student_id = a.student_id
WHERE a.here AND (k.kinds IS NOT NULL OR cardinality(a.counties) > 1)"""

MISSING_DETAILS = """array_remove(ARRAY[
      CASE WHEN coalesce(btrim(s.out_of_county->>'province'), '') = '' THEN 'province' END,
      CASE WHEN coalesce(btrim(s.out_of_county->>'county'), '') = '' THEN 'county' END,
      CASE WHEN coalesce(btrim(s.out_of_county->>'school_name'), '') = '' THEN 'school_name' END], NULL)"""

KINDS["out_of_county_incomplete"] = f"""{INSERT}
SELECT :v::uuid, 'out_of_county_incomplete', s.student_id, m.row_number, h.platform_id,
  coalesce(s.village_code, s.area_code),
  jsonb_build_object('name', s.name, 'id_number_masked', s.id_number_masked, 'school_code', s.school_code,
    'missing', to_jsonb({MISSING_DETAILS}),
    'known', jsonb_strip_nulls(jsonb_build_object('province', s.out_of_county->'province',
      'county', s.out_of_county->'county', 'school_name', s.out_of_county->'school_name')))
FROM statistics.student_fact s
LEFT JOIN statistics.household_fact h ON h.household_id = s.household_id
LEFT JOIN vm m ON m.student_id = s.student_id
WHERE s.status = 'out_of_county' AND {IN_AREA.format(t="s")} AND cardinality({MISSING_DETAILS}) > 0"""

KINDS["not_in_school"] = f"""{INSERT}
SELECT :v::uuid, 'not_in_school', coalesce(m.student_id, f.student_id), m.row_number, m.household_platform_id,
  coalesce(h.area_code, :area::text),
  jsonb_build_object('name', m.name, 'id_number_masked', m.id_number_masked, 'birth_date', m.birth_date,
    'gender', m.gender, 'age', {AGE}, 'registry_status', coalesce(m.s_status, fs.status),
    'school_code', coalesce(m.s_school, fs.school_code), 'statuses', to_jsonb(m.statuses))
FROM vm m LEFT JOIN vf f ON f.row_number = m.row_number
LEFT JOIN statistics.student_fact fs ON fs.student_id = f.student_id
{HOUSEHOLD_AREA}
WHERE m.birth_date > :ref::date - interval '16 years' AND m.birth_date <= :ref::date - interval '6 years'
  AND coalesce(m.s_status, '') NOT IN {IN_SCHOOL} AND coalesce(fs.status, '') NOT IN {IN_SCHOOL}"""

PERSIST = """
INSERT INTO statistics.roster_row (verification_id, row_number, household_platform_id, name, declared_gender,
  id_number_hash, id_number_masked, birth_date, gender, statuses)
SELECT :v::uuid, row_number, household_platform_id, name, declared_gender, id_number_hash, id_number_masked,
  birth_date, gender, statuses
FROM vm"""

SUMMARY = """
SELECT kind, count(*) FROM statistics.verification_finding WHERE verification_id = :v::uuid GROUP BY kind"""

# One edu.statistics.child.not_in_school event per finding, written to the outbox in SQL (the envelope of
# services.kit.events.envelope; the model: services.contracts.events.statistics).
EVENTS = """
INSERT INTO statistics.outbox (id, type, subject, payload)
SELECT e.eid, 'edu.statistics.child.not_in_school', e.id_number_hash, jsonb_build_object(
  'id', e.eid, 'type', 'edu.statistics.child.not_in_school', 'source', 'statistics',
  'time', to_char(timezone('UTC', clock_timestamp()), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
  'subject', e.id_number_hash, 'area_code', e.area_code, 'school_code', NULL, 'version', NULL,
  'schema_version', 1,
  'data', jsonb_build_object(
    'household_platform_id', e.household_platform_id, 'name', e.details->>'name',
    'id_number_masked', e.details->>'id_number_masked', 'id_number_hash', e.id_number_hash,
    'birth_date', e.details->>'birth_date', 'gender', e.details->>'gender', 'area_code', e.area_code,
    'student_id', e.student_id, 'registry_status', e.details->>'registry_status',
    'verification_id', :v::uuid, 'roster_version', :roster_version::int, 'semester', :sem::text,
    'finding_id', e.id))
FROM (
  SELECT gen_random_uuid() AS eid, f.*, m.id_number_hash
  FROM statistics.verification_finding f JOIN vm m ON m.row_number = f.row_number
  WHERE f.verification_id = :v::uuid AND f.kind = 'not_in_school'
) e"""
