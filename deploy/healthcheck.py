"""`python -m deploy.healthcheck URL`: a container health check that counts `degraded` as healthy.

A service with an open dead letter or a lagging consumer answers `/readyz` 503 `degraded`: it
still serves, and restarting or withholding it would help nobody. Only `unavailable` (database
or broker down) or no answer is unhealthy.
"""

import json
import sys
import urllib.error
import urllib.request


def main(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - a local health URL
            body = resp.read()
    except urllib.error.HTTPError as exc:
        body = exc.read()
    except OSError:
        return 1
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return 1
    return 0 if status in ("ok", "degraded") else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
