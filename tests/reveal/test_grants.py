"""Signed grants: round trips, and every way a grant must be refused."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from linkage.errors import LinkageError
from linkage.reveal.grants import (
    Grant,
    GrantRejected,
    SignedGrant,
    canonical_json,
    sign_grant,
    unverified_grant_id,
    verify_grant,
)
from linkage.reveal.keys import key_id, raw_public_b64

ISSUED = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()


def _grant(**changes: Any) -> Grant:
    grant = Grant(
        grant_id=7,
        request_id=3,
        project_id=1,
        run_id=2,
        match_id="m-41",
        party="health",
        pseudonyms=("p1", "p2"),
        investigator="alice",
        investigator_key=raw_public_b64(X25519PrivateKey.generate().public_key()),
        purpose="fraud investigation",
        legal_basis="s.29 DPA 2018",
        case_reference="CASE-9",
        issued_at=ISSUED,
        expires_at=ISSUED + timedelta(hours=24),
        service_key_id=key_id(KEY.public_key()),
    )
    return dataclasses.replace(grant, **changes)


def _verify(signed: SignedGrant, **changes: Any) -> Grant:
    arguments: dict[str, Any] = {
        "now": ISSUED + timedelta(hours=1),
        "party": "health",
        "project_id": 1,
    }
    arguments.update(changes)
    return verify_grant(signed, KEY.public_key(), **arguments)


def _reason(signed: SignedGrant, **changes: Any) -> str:
    with pytest.raises(GrantRejected) as info:
        _verify(signed, **changes)
    return info.value.reason


def _resign(obj: dict[str, Any]) -> SignedGrant:
    """Sign arbitrary JSON with the real key, as a compromised issuer might."""
    payload = canonical_json(obj)
    return SignedGrant(payload, KEY.sign(b"linkage-grant v1\n" + payload))


def test_round_trip() -> None:
    grant = _grant()
    signed = sign_grant(grant, KEY)
    assert _verify(signed) == grant
    assert SignedGrant.from_json(json.loads(json.dumps(signed.to_json()))) == signed
    assert Grant.from_json(grant.to_json()) == grant
    assert unverified_grant_id(signed) == 7


def test_json_shape() -> None:
    grant = _grant(issued_at=ISSUED.replace(microsecond=5))
    obj = grant.to_json()
    assert obj["version"] == 1
    assert obj["issued_at"] == "2024-05-01T12:00:00.000005Z"
    assert obj["expires_at"] == "2024-05-02T12:00:00Z"
    assert obj["pseudonyms"] == ["p1", "p2"]
    assert Grant.from_json(obj) == grant
    signed = sign_grant(grant, KEY).to_json()
    assert set(signed) == {"payload", "signature"}
    assert not any("=" in value for value in signed.values())


def test_payload_is_canonical_json() -> None:
    grant = _grant(purpose="enquête")
    signed = sign_grant(grant, KEY)
    assert signed.payload == json.dumps(
        grant.to_json(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def test_times_in_other_zones_are_written_in_utc() -> None:
    from datetime import timezone

    zone = timezone(timedelta(hours=2))
    grant = _grant(issued_at=ISSUED.astimezone(zone))
    assert grant.to_json()["issued_at"] == "2024-05-01T12:00:00Z"
    assert Grant.from_json(grant.to_json()) == grant


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _grant(expires_at=datetime(2024, 5, 2))
    with pytest.raises(ValueError, match="timezone-aware"):
        _verify(sign_grant(_grant(), KEY), now=datetime(2024, 5, 1, 13))


def test_grant_rejected_is_a_linkage_error() -> None:
    assert issubclass(GrantRejected, LinkageError)


def test_sign_refuses_a_grant_naming_another_key() -> None:
    with pytest.raises(ValueError, match="names service key"):
        sign_grant(_grant(service_key_id="0" * 32), KEY)


def test_every_byte_flip_is_a_bad_signature() -> None:
    signed = sign_grant(_grant(pseudonyms=("p",), case_reference=None), KEY)
    for field in ("payload", "signature"):
        original = getattr(signed, field)
        for position in range(len(original)):
            for flip in (0x01, 0x80):
                damaged = bytearray(original)
                damaged[position] ^= flip
                forged = dataclasses.replace(signed, **{field: bytes(damaged)})
                with pytest.raises(GrantRejected) as info:
                    _verify(forged)
                assert info.value.reason == "bad-signature", (field, position)


def test_bad_signature_message() -> None:
    signed = sign_grant(_grant(), KEY)
    forged = dataclasses.replace(signed, payload=signed.payload.replace(b"p1", b"p9"))
    with pytest.raises(GrantRejected) as info:
        _verify(forged)
    message = str(info.value)
    assert "claiming id 7" in message
    assert "does not verify against the pinned service key" in message
    assert "forged or altered" in message
    assert "tell the operator" in message


def test_another_key_is_a_bad_signature() -> None:
    other = Ed25519PrivateKey.generate()
    grant = _grant(service_key_id=key_id(other.public_key()))
    assert _reason(sign_grant(grant, other)) == "bad-signature"


def test_signature_without_domain_label_is_refused() -> None:
    payload = canonical_json(_grant().to_json())
    assert _reason(SignedGrant(payload, KEY.sign(payload))) == "bad-signature"


def test_reordered_payload_is_refused() -> None:
    signed = sign_grant(_grant(), KEY)
    obj = json.loads(signed.payload)
    reordered = json.dumps(dict(reversed(list(obj.items())))).encode("utf-8")
    assert json.loads(reordered) == obj
    assert reordered != signed.payload
    swapped = dataclasses.replace(signed, payload=reordered)
    assert _reason(swapped) == "bad-signature"


def test_non_canonical_payload_signed_by_the_key_is_malformed() -> None:
    # Even with a valid signature, only the canonical encoding is accepted.
    obj = _grant().to_json()
    payload = json.dumps(obj, indent=1).encode("utf-8")
    signed = SignedGrant(payload, KEY.sign(b"linkage-grant v1\n" + payload))
    assert _reason(signed) == "malformed"


@pytest.mark.parametrize(
    "change",
    [
        {"version": 2},
        {"grant_id": "7"},
        {"grant_id": True},
        {"project_id": -1},
        {"party": ""},
        {"pseudonyms": "p1"},
        {"pseudonyms": [1]},
        {"case_reference": 5},
        {"investigator_key": "not a key"},
        {"issued_at": "2024-05-01 12:00:00"},
        {"expires_at": "2024-05-01T12:00:00+00:00"},
        {"expires_at": "2024-02-30T12:00:00Z"},
        {"expires_at": "2024-05-01T11:00:00Z"},
        {"extra": 1},
    ],
)
def test_malformed_payload(change: dict[str, Any]) -> None:
    obj = {**_grant().to_json(), **change}
    with pytest.raises(GrantRejected) as info:
        _verify(_resign(obj))
    assert info.value.reason == "malformed"
    assert info.value.grant_id == (7 if type(obj["grant_id"]) is int else None)
    with pytest.raises(GrantRejected):
        Grant.from_json(obj)


def test_missing_key_is_malformed() -> None:
    obj = _grant().to_json()
    del obj["purpose"]
    with pytest.raises(GrantRejected, match="missing purpose") as info:
        _verify(_resign(obj))
    assert info.value.reason == "malformed"


def test_payload_not_json_is_malformed() -> None:
    payload = b"\xff not json"
    signed = SignedGrant(payload, KEY.sign(b"linkage-grant v1\n" + payload))
    assert _reason(signed) == "malformed"
    assert unverified_grant_id(signed) is None


def test_wrong_project() -> None:
    signed = sign_grant(_grant(), KEY)
    with pytest.raises(GrantRejected, match="grant 7 is for project 1, not 2") as info:
        _verify(signed, project_id=2)
    assert info.value.reason == "wrong-project"
    assert info.value.grant_id == 7


def test_wrong_party() -> None:
    signed = sign_grant(_grant(), KEY)
    with pytest.raises(
        GrantRejected, match="grant 7 is for party 'health', not 'police'"
    ) as info:
        _verify(signed, party="police")
    assert info.value.reason == "wrong-party"


def test_expired() -> None:
    signed = sign_grant(_grant(), KEY)
    expires = ISSUED + timedelta(hours=24)
    assert _verify(signed, now=expires - timedelta(microseconds=1)).grant_id == 7
    with pytest.raises(
        GrantRejected, match="grant 7 expired at 2024-05-02T12:00:00Z"
    ) as info:
        _verify(signed, now=expires)
    assert info.value.reason == "expired"


def test_not_yet_valid() -> None:
    signed = sign_grant(_grant(), KEY)
    # A little clock skew is tolerated; more is not.
    assert _verify(signed, now=ISSUED - timedelta(minutes=5)).grant_id == 7
    with pytest.raises(GrantRejected, match="in the future") as info:
        _verify(signed, now=ISSUED - timedelta(minutes=5, seconds=1))
    assert info.value.reason == "not-yet-valid"


def test_checks_run_in_order() -> None:
    # A wrong project is reported before a wrong party, and that before expiry.
    signed = sign_grant(_grant(), KEY)
    late = ISSUED + timedelta(days=2)
    assert _reason(signed, project_id=9, party="police", now=late) == "wrong-project"
    assert _reason(signed, party="police", now=late) == "wrong-party"
    other = Ed25519PrivateKey.generate()
    forged = sign_grant(_grant(service_key_id=key_id(other.public_key())), other)
    assert _reason(forged, project_id=9, now=late) == "bad-signature"


@pytest.mark.parametrize(
    "obj",
    [
        None,
        [],
        {"payload": "e30"},
        {"payload": "e30", "signature": "A" * 86, "x": ""},
        {"payload": "e30=", "signature": "A" * 86},
        {"payload": "e3+", "signature": "A" * 86},
        {"payload": "e31", "signature": "A" * 86},
        {"payload": "e30", "signature": "A" * 85},
        {"payload": "e30", "signature": "AAAA"},
        {"payload": 1, "signature": "A" * 86},
    ],
)
def test_signed_grant_from_json_is_strict(obj: object) -> None:
    with pytest.raises(GrantRejected) as info:
        SignedGrant.from_json(obj)
    assert info.value.reason == "malformed"


def test_signed_grant_from_json_accepts_its_own_output() -> None:
    obj = {"payload": "e30", "signature": "A" * 86}
    assert SignedGrant.from_json(obj).to_json() == obj
