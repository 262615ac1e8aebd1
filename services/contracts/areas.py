"""Area codes: what a code that names an area may look like (DESIGN "Domain", GB/T 2260 and the
statistical division codes).

A stored area, or a record placed in one, has a code of a real level: province 2, city 4, county 6,
township 9, village 12 digits. A 7-digit code names no area and would still pass a prefix scope
check, so bodies that create or place something refuse it; list filters take any prefix.
"""

AREA_CODE_PATTERN = r"^([0-9]{2}|[0-9]{4}|[0-9]{6}|[0-9]{9}|[0-9]{12})$"
AREA_CODE_HELP = "2 (province), 4 (city), 6 (county), 9 (township) or 12 (village) digits"
