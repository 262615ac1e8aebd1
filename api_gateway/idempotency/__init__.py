"""Idempotency-Key on POST: a retried request with the same key and body replays the first response."""
