"""Tests for sealing disclosures to an investigator's X25519 key."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from linkage.errors import LinkageError
from linkage.reveal import sealing
from linkage.reveal.sealing import (
    DEFAULT_SCHEME,
    ENC_BYTES,
    HPKE_SCHEME,
    SCHEMES,
    X25519_HKDF_SCHEME,
    SealedEnvelope,
    SealError,
    binding,
    hpke_available,
    open_sealed,
    seal,
)

VECTOR = Path(__file__).parent / "vectors" / "rfc9180_a1_1.json"
BINDING = binding(project_id=1, request_id=2, grant_id=3, party="agency-a")
PLAINTEXT = b'{"records":[{"name":"Ana Silva","dob":"1990-02-01"}]}'

needs_hpke = pytest.mark.skipif(
    not hpke_available(), reason="this cryptography has no HPKE"
)
ALL_SCHEMES = [
    pytest.param(HPKE_SCHEME, marks=needs_hpke),
    pytest.param(X25519_HKDF_SCHEME),
]


@pytest.fixture(scope="module")
def investigator() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def test_default_scheme_is_hpke_when_available() -> None:
    assert SCHEMES == (HPKE_SCHEME, X25519_HKDF_SCHEME)
    expected = HPKE_SCHEME if hpke_available() else X25519_HKDF_SCHEME
    assert DEFAULT_SCHEME == expected


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_round_trip(scheme: str, investigator: X25519PrivateKey) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=scheme)
    assert envelope.scheme == scheme
    assert len(envelope.enc) == ENC_BYTES
    assert open_sealed(envelope, investigator, BINDING) == PLAINTEXT


def test_default_scheme_is_used(investigator: X25519PrivateKey) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING)
    assert envelope.scheme == DEFAULT_SCHEME


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_sealing_is_randomised(scheme: str, investigator: X25519PrivateKey) -> None:
    public = investigator.public_key()
    first = seal(PLAINTEXT, public, BINDING, scheme=scheme)
    second = seal(PLAINTEXT, public, BINDING, scheme=scheme)
    assert first.enc != second.enc
    assert first.ciphertext != second.ciphertext


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_another_key_cannot_open(scheme: str, investigator: X25519PrivateKey) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=scheme)
    with pytest.raises(SealError, match="sealed to another investigator's key"):
        open_sealed(envelope, X25519PrivateKey.generate(), BINDING)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
@pytest.mark.parametrize(
    "other",
    [
        {"project_id": 9},
        {"request_id": 9},
        {"grant_id": 9},
        {"party": "agency-b"},
    ],
)
def test_another_binding_cannot_open(
    scheme: str, other: dict[str, Any], investigator: X25519PrivateKey
) -> None:
    context: dict[str, Any] = {
        "project_id": 1,
        "request_id": 2,
        "grant_id": 3,
        "party": "agency-a",
    }
    moved = binding(**{**context, **other})
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=scheme)
    with pytest.raises(SealError, match="belongs to another request"):
        open_sealed(envelope, investigator, moved)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_every_flipped_byte_fails(scheme: str, investigator: X25519PrivateKey) -> None:
    envelope = seal(b"Ana", investigator.public_key(), BINDING, scheme=scheme)
    for field in ("enc", "ciphertext"):
        original: bytes = getattr(envelope, field)
        for index in range(len(original)):
            flipped = bytearray(original)
            flipped[index] ^= 0x01
            altered = SealedEnvelope(
                **{**envelope.__dict__, field: bytes(flipped)},
            )
            with pytest.raises(SealError):
                open_sealed(altered, investigator, BINDING)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_truncated_or_extended_ciphertext_fails(
    scheme: str, investigator: X25519PrivateKey
) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=scheme)
    for ciphertext in (
        envelope.ciphertext[:-1],
        envelope.ciphertext + b"\x00",
        b"",
    ):
        altered = SealedEnvelope(envelope.scheme, envelope.enc, ciphertext)
        with pytest.raises(SealError):
            open_sealed(altered, investigator, BINDING)


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_low_order_or_short_enc_fails(
    scheme: str, investigator: X25519PrivateKey
) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=scheme)
    for enc in (bytes(ENC_BYTES), envelope.enc[:-1]):
        altered = SealedEnvelope(envelope.scheme, enc, envelope.ciphertext)
        with pytest.raises(SealError):
            open_sealed(altered, investigator, BINDING)


@settings(max_examples=50, deadline=None)
@given(
    plaintext=st.binary(max_size=2048),
    scheme=st.sampled_from(
        [s for s in SCHEMES if s != HPKE_SCHEME or hpke_available()]
    ),
)
def test_round_trip_any_plaintext(plaintext: bytes, scheme: str) -> None:
    key = X25519PrivateKey.generate()
    envelope = seal(plaintext, key.public_key(), BINDING, scheme=scheme)
    assert open_sealed(envelope, key, BINDING) == plaintext
    decoded = SealedEnvelope.from_json(json.loads(json.dumps(envelope.to_json())))
    assert decoded == envelope


@pytest.mark.parametrize("scheme", ALL_SCHEMES)
def test_sealed_bytes_never_contain_the_plaintext(
    scheme: str, investigator: X25519PrivateKey
) -> None:
    secret = b"Ana Maria Silva, born 1990-02-01, 12 Rua Augusta"
    envelope = seal(secret, investigator.public_key(), BINDING, scheme=scheme)
    wire = json.dumps(envelope.to_json()).encode()
    for blob in (envelope.enc, envelope.ciphertext, wire):
        assert secret not in blob
        assert b"Ana Maria" not in blob


def test_unknown_scheme_is_refused(investigator: X25519PrivateKey) -> None:
    with pytest.raises(SealError, match="unknown sealing scheme 'rot13'"):
        seal(PLAINTEXT, investigator.public_key(), BINDING, scheme="rot13")
    envelope = SealedEnvelope("rot13", bytes(ENC_BYTES), b"x" * 40)
    with pytest.raises(SealError, match="unknown sealing scheme"):
        open_sealed(envelope, investigator, BINDING)


def test_hpke_missing_says_upgrade(
    monkeypatch: pytest.MonkeyPatch, investigator: X25519PrivateKey
) -> None:
    envelope = SealedEnvelope(HPKE_SCHEME, bytes(ENC_BYTES), b"x" * 40)
    monkeypatch.setattr(sealing, "_HPKE_SUITE", None)
    assert not hpke_available()
    with pytest.raises(SealError, match="upgrade `cryptography`"):
        open_sealed(envelope, investigator, BINDING)
    with pytest.raises(SealError, match="upgrade `cryptography`"):
        seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=HPKE_SCHEME)


def test_seal_error_is_a_linkage_error() -> None:
    assert issubclass(SealError, LinkageError)


# --- binding --------------------------------------------------------------


def test_binding_is_canonical() -> None:
    assert BINDING == (
        b'linkage-reveal v1\n{"grant_id":3,"party":"agency-a",'
        b'"project_id":1,"request_id":2}'
    )
    again = binding(party="agency-a", grant_id=3, request_id=2, project_id=1)
    assert again == BINDING


def test_binding_is_unambiguous() -> None:
    # A party name cannot smuggle in other fields: JSON escapes its quotes.
    tricky = binding(project_id=1, request_id=2, grant_id=3, party='a","grant_id":4')
    assert tricky != binding(project_id=1, request_id=2, grant_id=4, party="a")
    assert binding(project_id=12, request_id=3, grant_id=1, party="p") != binding(
        project_id=1, request_id=23, grant_id=1, party="p"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"project_id": -1},
        {"request_id": True},
        {"grant_id": "3"},
        {"party": ""},
    ],
)
def test_binding_rejects_bad_values(bad: dict[str, Any]) -> None:
    context: dict[str, Any] = {
        "project_id": 1,
        "request_id": 2,
        "grant_id": 3,
        "party": "agency-a",
    }
    with pytest.raises(ValueError, match=next(iter(bad))):
        binding(**{**context, **bad})


# --- JSON form ------------------------------------------------------------


def test_json_round_trip(investigator: X25519PrivateKey) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING)
    obj = envelope.to_json()
    assert set(obj) == {"scheme", "enc", "ciphertext"}
    assert all("=" not in value for value in obj.values())
    assert SealedEnvelope.from_json(obj) == envelope


def _good_json() -> dict[str, Any]:
    envelope = SealedEnvelope(X25519_HKDF_SCHEME, bytes(range(32)), b"\xff" * 29)
    return dict(envelope.to_json())


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"scheme": "rot13"}, "scheme"),
        ({"scheme": 1}, "scheme"),
        ({"enc": "AAAA"}, "enc"),
        ({"enc": 7}, "enc"),
        ({"enc": "a+b/"}, "enc"),
        ({"ciphertext": "AAAA=="}, "ciphertext"),
        ({"ciphertext": "A"}, "ciphertext"),
        ({"ciphertext": "AB"}, "ciphertext"),  # non-zero trailing bits
        ({"extra": "x"}, "extra"),
    ],
)
def test_from_json_is_strict(change: dict[str, Any], field: str) -> None:
    with pytest.raises(SealError, match=field):
        SealedEnvelope.from_json({**_good_json(), **change})


def test_from_json_rejects_missing_field_and_non_object() -> None:
    obj = _good_json()
    del obj["enc"]
    with pytest.raises(SealError, match="missing \\['enc'\\]"):
        SealedEnvelope.from_json(obj)
    with pytest.raises(SealError, match="must be a JSON object"):
        SealedEnvelope.from_json(["scheme", "enc"])


# --- RFC 9180 conformance -------------------------------------------------
# A reference HPKE key schedule written from RFC 9180 §4-5.1 with the
# standard library, for the tests only. It first proves itself against the
# RFC's published vector A.1.1; then it opens what `seal` produced and seals
# what `open_sealed` opens. That shows our HPKE envelopes are RFC 9180.
#
# The single-shot `Suite.decrypt` cannot open the vector's ciphertext
# directly: the RFC's encryptions use AAD "Count-0", and that API has no AAD.


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(
    suite: bytes, prk: bytes, label: bytes, info: bytes, length: int
) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + suite + label + info
    return _expand(prk, labeled, length)


def _raw(public: X25519PublicKey) -> bytes:
    return public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def _shared_secret(dh: bytes, enc: bytes, pk_r: bytes) -> bytes:
    kem = b"KEM" + (0x0020).to_bytes(2, "big")
    eae_prk = _labeled_extract(kem, b"", b"eae_prk", dh)
    return _labeled_expand(kem, eae_prk, b"shared_secret", enc + pk_r, 32)


def _key_schedule(
    shared: bytes, info: bytes, aead_id: int, key_length: int
) -> dict[str, bytes]:
    suite = b"HPKE" + b"".join(n.to_bytes(2, "big") for n in (0x0020, 1, aead_id))
    psk_id_hash = _labeled_extract(suite, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash  # mode_base
    secret = _labeled_extract(suite, shared, b"secret", b"")
    return {
        "key": _labeled_expand(suite, secret, b"key", context, key_length),
        "base_nonce": _labeled_expand(suite, secret, b"base_nonce", context, 12),
        "exporter_secret": _labeled_expand(suite, secret, b"exp", context, 32),
    }


def _vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTOR.read_text(encoding="utf-8"))
    return data


def test_reference_schedule_reproduces_rfc9180_a1_1() -> None:
    vector = _vector()
    sk_r = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
    sk_e = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skEm"]))
    assert _raw(sk_r.public_key()).hex() == vector["pkRm"]
    assert _raw(sk_e.public_key()).hex() == vector["pkEm"] == vector["enc"]

    enc = bytes.fromhex(vector["enc"])
    dh = sk_r.exchange(X25519PublicKey.from_public_bytes(enc))
    shared = _shared_secret(dh, enc, bytes.fromhex(vector["pkRm"]))
    assert shared.hex() == vector["shared_secret"]

    schedule = _key_schedule(shared, bytes.fromhex(vector["info"]), 1, 16)
    for name in ("key", "base_nonce", "exporter_secret"):
        assert schedule[name].hex() == vector[name], name

    first = vector["encryptions"][0]
    opened = AESGCM(schedule["key"]).decrypt(
        schedule["base_nonce"], bytes.fromhex(first["ct"]), bytes.fromhex(first["aad"])
    )
    assert opened == bytes.fromhex(first["pt"])


@needs_hpke
def test_our_hpke_envelope_opens_by_rfc9180(investigator: X25519PrivateKey) -> None:
    envelope = seal(PLAINTEXT, investigator.public_key(), BINDING, scheme=HPKE_SCHEME)
    dh = investigator.exchange(X25519PublicKey.from_public_bytes(envelope.enc))
    shared = _shared_secret(dh, envelope.enc, _raw(investigator.public_key()))
    # AES-256-GCM is AEAD id 2; the binding is the HPKE info; no AAD.
    schedule = _key_schedule(shared, BINDING, 2, 32)
    opened = AESGCM(schedule["key"]).decrypt(
        schedule["base_nonce"], envelope.ciphertext, b""
    )
    assert opened == PLAINTEXT


@needs_hpke
def test_rfc9180_envelope_opens_with_open_sealed() -> None:
    vector = _vector()
    sk_r = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skRm"]))
    sk_e = X25519PrivateKey.from_private_bytes(bytes.fromhex(vector["skEm"]))
    enc = _raw(sk_e.public_key())
    dh = sk_e.exchange(sk_r.public_key())
    shared = _shared_secret(dh, enc, _raw(sk_r.public_key()))
    schedule = _key_schedule(shared, BINDING, 2, 32)
    ciphertext = AESGCM(schedule["key"]).encrypt(schedule["base_nonce"], PLAINTEXT, b"")
    envelope = SealedEnvelope(HPKE_SCHEME, enc, ciphertext)
    assert open_sealed(envelope, sk_r, BINDING) == PLAINTEXT
