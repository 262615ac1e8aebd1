"""What a service port serves without the gateway's signature (kit.auth.DirectReads): no reveal in any spelling."""

import pytest

from services.kit.auth import DirectReads, Principal, Role
from services.kit.gateway_trust import BadSignature, NotViaGateway, SignatureVerifier, parse, sign_mac
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


# The v2 form of the gateway's signature header: `t=<unix>,n=<nonce>,mac=<b64url>` and nothing else.


def test_the_v2_form_is_parsed():
    assert parse("t=1700000000,n=abc,mac=xyz") == {"t": "1700000000", "n": "abc", "mac": "xyz"}


@pytest.mark.parametrize(
    "value",
    [
        "kid=k,t=1,n=a,mac=x",  # a v1 field in a v2 header
        "t=1,n=a,sig=x,mac=y",  # both a signature and a MAC
        "t=1,n=a",  # no mac
        "t=1,n=a,MAC=x",  # field names are lower case
        "t=1,n=,mac=x",  # an empty nonce
        "t=1,n=a,n=b,mac=x",  # a field twice
        "t=1,n=a,mac=x,mac=x",
    ],
)
def test_a_malformed_v2_signature_is_refused(value):
    from services.kit.errors import Unauthorized

    with pytest.raises(BadSignature) as caught:
        parse(value)
    assert isinstance(caught.value, Unauthorized)


def signed_scope(value: str) -> dict:
    return {
        "type": "http",
        "method": "GET",
        "path": "/api/v1/x",
        "raw_path": b"/api/v1/x",
        "query_string": b"",
        "headers": [(b"x-gateway-signature", value.encode())],
    }


async def no_ed25519_key(kid: str):
    raise AssertionError("a v2 header must not look up an Ed25519 key")


def v2_header(key: bytes) -> str:
    return sign_mac(key, method="GET", target=b"/api/v1/x", authorization=None, length=None)


async def test_a_v2_signature_is_refused_by_a_service_without_a_hop_key():
    value = v2_header(b"k" * 32)
    assert parse(value).keys() == {"t", "n", "mac"}  # well-formed and fresh: refused for the key alone
    with pytest.raises(BadSignature):
        await SignatureVerifier(no_ed25519_key, mac_keys=()).verify(signed_scope(value))


async def test_a_v2_signature_verifies_once_and_only_under_its_key():
    key = b"k" * 32
    value = v2_header(key)
    verifier = SignatureVerifier(no_ed25519_key, mac_keys=(key,))
    await verifier.verify(signed_scope(value))
    with pytest.raises(BadSignature, match="replay"):
        await verifier.verify(signed_scope(value))
    with pytest.raises(BadSignature, match="does not match"):
        await SignatureVerifier(no_ed25519_key, mac_keys=(b"o" * 32,)).verify(signed_scope(v2_header(key)))


async def test_a_v2_signature_verifies_under_the_old_key_while_rotating():
    new, old = b"n" * 32, b"o" * 32
    verifier = SignatureVerifier(no_ed25519_key, mac_keys=(new, old))
    await verifier.verify(signed_scope(v2_header(new)))
    await verifier.verify(signed_scope(v2_header(old)))
    with pytest.raises(BadSignature, match="does not match"):
        await verifier.verify(signed_scope(v2_header(b"k" * 32)))
