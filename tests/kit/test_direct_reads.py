"""What a service port serves without the gateway's signature (kit.auth.DirectReads): no reveal in any spelling."""

import pytest

from services.kit.auth import DirectReads, Principal, Role
from services.kit.gateway_trust import NotViaGateway, parse
from services.kit.settings import Settings

COUNTY = Principal("u1", "county_a", Role.county, "610928")


def scope(query: bytes, method: str = "GET") -> dict:
    return {"method": method, "query_string": query, "headers": []}


@pytest.mark.parametrize(
    "query",
    [
        b"reveal=id_number",
        b"REVEAL=true",
        b"%72eveal=id_number",  # percent-encoded key: the app decodes it to `reveal`
        b"%52%45%56%45%41%4c=1",
        b"x=1&re%76eal=id_number",
        b"reveal",
        b"+reveal=1",
    ],
)
def test_a_reveal_in_any_spelling_needs_the_gateway(query):
    with pytest.raises(NotViaGateway):
        DirectReads().admit(scope(query), COUNTY, Settings(rate_limit_per_minute=0))


def test_a_plain_read_is_served():
    DirectReads().admit(scope(b"limit=10&school_code=2161000001"), COUNTY, Settings(rate_limit_per_minute=0))


@pytest.mark.parametrize("t", ["²", "1" * 400, "12a", ""])
def test_a_malformed_signature_time_is_refused_not_a_crash(t):
    from services.kit.errors import Unauthorized

    with pytest.raises(Unauthorized):
        parse(f"kid=k,t={t},n=abc,sig=xyz")
