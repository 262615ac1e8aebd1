"""The API gateway: tokens, users, routing to the services, rate limits, idempotency, audit."""
