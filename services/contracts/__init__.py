"""The contracts every service shares: one vocabulary, one calendar, typed versioned events.

Imported by every service; imports no service (only `services.kit` for settings).
`vocabulary` and `calendar` are stdlib-only, so worker processes can use them cheaply.
"""

# Chinese for the domain's messages and labels, registered with the kit (both stdlib-only).
from services.contracts import labels, messages  # noqa: F401
