"""What runs the whole deployment, above the services: the stack (embedded servers, migrations,
processes), the demo data, the documents under openapi/, relays as processes, operator commands.

Imports the services and the gateway; nothing imports it back (tests and benchmarks aside).
"""
