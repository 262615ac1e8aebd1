"""X-Forwarded-For is believed only from NOL_TRUSTED_PROXIES (addresses or CIDR blocks), hop by hop."""

from api_gateway.ratelimit import client_ip, networks

TRUSTED = networks(["10.0.0.0/8", "192.168.7.1"])


def scope(peer: str, *forwarded: str) -> dict:
    return {"client": (peer, 4711), "headers": [(b"x-forwarded-for", f.encode()) for f in forwarded]}


def test_header_from_an_untrusted_peer_is_ignored():
    assert client_ip(scope("203.0.113.5", "1.2.3.4"), TRUSTED) == "203.0.113.5"
    assert client_ip(scope("127.0.0.1", "1.2.3.4"), networks([])) == "127.0.0.1"  # default: nobody


def test_nearest_untrusted_hop_behind_trusted_proxies():
    # client -> spoofed part -> real client -> proxy 10.1.1.1 -> proxy 10.2.2.2 (the peer)
    assert client_ip(scope("10.2.2.2", "6.6.6.6, 198.51.100.7, 10.1.1.1"), TRUSTED) == "198.51.100.7"
    assert client_ip(scope("192.168.7.1", "198.51.100.8"), TRUSTED) == "198.51.100.8"
    assert (
        client_ip(scope("10.2.2.2", "not-an-ip"), TRUSTED) == "10.2.2.2"
    )  # garbage: the proxy is all we know
