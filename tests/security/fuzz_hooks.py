"""Schemathesis hooks for tests/security/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

`fields=` asks for a compact list, a documented subset of each item's schema: a fuzzer checking
bodies against the whole schema would call every subset a violation. It asks for whole items;
`fields=` itself is tested in tests/kit/test_listing.py.
"""

import schemathesis


@schemathesis.hook
def map_query(context, query):
    if query:
        query.pop("fields", None)
    return query
