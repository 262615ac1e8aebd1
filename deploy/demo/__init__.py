"""Demo data: a synthetic county (旬阳市) with schools, students and logins, loaded through the REST API."""
