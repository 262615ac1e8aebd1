"""The hop keys of the gateway's request MACs (kit.gateway_trust v2): one per service, derived from
the gateway's secret; a service holds only its own (two while rotating)."""

import base64
import os
import time

import pytest

from services.kit.gateway_trust import BadSignature, SignatureVerifier, hop_key, own_hop_keys, sign_mac
from services.kit.settings import Settings

SERVICES = ("registry", "subsidy", "dropout", "statistics")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def scope(value: str, path: bytes = b"/api/v1/areas") -> dict:
    return {
        "type": "http", "method": "POST", "path": path.decode(), "raw_path": path, "query_string": b"",
        "headers": [(b"x-gateway-signature", value.encode()), (b"content-length", b"2")],
    }  # fmt: skip


def mac(key: bytes) -> str:
    return sign_mac(key, method="POST", target=b"/api/v1/areas", authorization=None, length="2")


async def no_ed25519(kid: str):
    raise AssertionError("a v2 MAC never asks for an Ed25519 key")


def test_each_service_has_its_own_key_from_the_secret():
    settings = Settings(hop_secret=b64(os.urandom(32)))
    keys = [hop_key(settings, s) for s in SERVICES]
    assert len(set(keys)) == 4 and all(len(k) == 32 for k in keys)
    assert keys == [hop_key(Settings(hop_secret=settings.hop_secret), s) for s in SERVICES]  # deterministic
    assert hop_key(Settings(hop_secret=b64(os.urandom(32))), "registry") != keys[0]


def test_one_machine_derives_from_the_data_dir(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert own_hop_keys(settings, "registry") == (hop_key(settings, "registry"),)
    assert (tmp_path / "keys" / "hop.key").stat().st_mode & 0o077 == 0  # made once, the owner's only


async def test_a_service_accepts_its_keys_only_new_and_old_while_rotating():
    gateway_old = Settings(hop_secret=b64(os.urandom(32)))
    gateway_new = Settings(hop_secret=b64(os.urandom(32)))
    old, new = hop_key(gateway_old, "registry"), hop_key(gateway_new, "registry")
    service = Settings(hop_key=f"{b64(new)}, {b64(old)}")
    verifier = SignatureVerifier(no_ed25519, mac_keys=own_hop_keys(service, "registry"))
    await verifier.verify(scope(mac(new)))
    await verifier.verify(scope(mac(old)))
    for other in (hop_key(gateway_new, "subsidy"), os.urandom(32)):  # another service's, a stranger's
        with pytest.raises(BadSignature):
            await verifier.verify(scope(mac(other)))
    replay = mac(new)
    await verifier.verify(scope(replay))
    with pytest.raises(BadSignature):
        await verifier.verify(scope(replay))
    stale = sign_mac(new, method="POST", target=b"/api/v1/areas", authorization=None, length="2",
                     now=time.time() - 120)  # fmt: skip
    with pytest.raises(BadSignature):
        await verifier.verify(scope(stale))
    with pytest.raises(BadSignature):  # what it covers: another target
        await verifier.verify(scope(mac(new), path=b"/api/v1/schools"))


def test_a_key_list_naming_no_key_is_refused():
    with pytest.raises(ValueError, match="NOL_HOP_KEY names no key"):
        own_hop_keys(Settings(hop_key=" , "), "registry")


@pytest.mark.parametrize("given", ["short", b64(os.urandom(16)), "!!!"])
def test_a_malformed_key_names_its_setting(given):
    with pytest.raises(ValueError, match="NOL_HOP_KEY"):
        own_hop_keys(Settings(hop_key=given), "registry")
    with pytest.raises(ValueError, match="NOL_HOP_SECRET"):
        hop_key(Settings(hop_secret=given), "registry")
