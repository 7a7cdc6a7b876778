"""The Noise handshake (ssbmoney.core.noise): byte for byte against cacophony's published
psk0 vectors and our XXpsk0 vectors (feeds/noise/), against noiseprotocol itself, and
under attack - every way a peer or a wire can lie must end in NoiseError."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from secrets import token_bytes
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # works uninstalled

from ssbmoney.core import noise
from ssbmoney.core.noise import (
    MAX_MESSAGE,
    CipherState,
    HandshakeState,
    NoiseError,
    x25519_public,
)

ROOT = Path(__file__).resolve().parent.parent
FEEDS = ROOT / "feeds" / "noise"
SCRIPT = ROOT / "scripts" / "gen_noise_vectors"
XX = "XXpsk0"
PSK = bytes(range(32))
TAG = 16


def _load() -> list[tuple[str, dict[str, Any]]]:
    return [(f"{path.stem}-{i}-{vector['protocol_name']}", vector)
            for path in sorted(FEEDS.glob("*.json"))
            for i, vector in enumerate(json.loads(path.read_text())["vectors"])]


VECTORS = _load()


def _hex(vector: dict[str, Any], key: str) -> bytes | None:
    return bytes.fromhex(vector[key]) if key in vector else None


def _side(vector: dict[str, Any], side: str) -> HandshakeState:
    return HandshakeState(
        vector["protocol_name"], side == "init", prologue=_hex(vector, f"{side}_prologue") or b"",
        s=_hex(vector, f"{side}_static"), e=_hex(vector, f"{side}_ephemeral"),
        rs=_hex(vector, f"{side}_remote_static"),
        psks=[bytes.fromhex(p) for p in vector.get(f"{side}_psks", [])])


@pytest.mark.parametrize("vector", [v for _, v in VECTORS], ids=[i for i, _ in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    """Every handshake message, the handshake hash, and every transport message after
    split, byte for byte, on both sides."""
    init, resp = _side(vector, "init"), _side(vector, "resp")
    ciphers: dict[int, tuple[CipherState, CipherState]] = {}
    for n, message in enumerate(vector["messages"]):
        sender, receiver = (init, resp) if n % 2 == 0 else (resp, init)
        payload = bytes.fromhex(message["payload"])
        if not init.complete:
            sent = sender.write_message(payload)
            assert sent.hex() == message["ciphertext"], f"message {n}"
            assert receiver.read_message(sent) == payload
            continue
        if not ciphers:
            assert resp.complete
            assert init.handshake_hash.hex() == vector["handshake_hash"]
            assert resp.handshake_hash.hex() == vector["handshake_hash"]
            ciphers = {id(init): init.split(), id(resp): resp.split()}
        sent = ciphers[id(sender)][0].encrypt_with_ad(b"", payload)
        assert sent.hex() == message["ciphertext"], f"message {n}"
        assert ciphers[id(receiver)][1].decrypt_with_ad(b"", sent) == payload
    assert ciphers, "every vector has transport messages"
    for me, peer in ((init, "resp"), (resp, "init")):
        peer_static = _hex(vector, f"{peer}_static")
        assert me.remote_static == (None if peer_static is None
                                    else x25519_public(peer_static))


def test_the_vector_files_hold_what_we_claim() -> None:
    names = [vector["protocol_name"] for _, vector in VECTORS]
    assert names.count("Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b") == 1
    assert names.count("Noise_KKpsk0_25519_ChaChaPoly_BLAKE2b") == 1
    assert names.count("Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b") >= 4
    largest = max(len(m["ciphertext"]) // 2 for _, v in VECTORS for m in v["messages"])
    assert largest == MAX_MESSAGE


def test_xxpsk0_vectors_regenerate_identically(tmp_path: Path) -> None:
    pytest.importorskip("noise.connection", reason="noiseprotocol generates the vectors")
    subprocess.run([sys.executable, str(SCRIPT), "--out", str(tmp_path)], check=True,
                   capture_output=True)
    assert (tmp_path / "xxpsk0.json").read_bytes() == (FEEDS / "xxpsk0.json").read_bytes()


# --------------------------------------------------------------------------------------
# Interop with noiseprotocol, random keys
# --------------------------------------------------------------------------------------


def _theirs(initiator: bool, static: bytes, psk: bytes, prologue: bytes) -> Any:
    connection = pytest.importorskip("noise.connection")
    conn = connection.NoiseConnection.from_name(b"Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b")
    if initiator:
        conn.set_as_initiator()
    else:
        conn.set_as_responder()
    conn.set_psks(psk=psk)
    conn.set_prologue(prologue)
    conn.set_keypair_from_private_bytes(connection.Keypair.STATIC, static)
    conn.start_handshake()
    return conn


@pytest.mark.parametrize("we_initiate", [True, False], ids=["we-initiate", "they-initiate"])
def test_interop_with_noiseprotocol(we_initiate: bool) -> None:
    psk, prologue = token_bytes(32), b"interop"
    ours_s, theirs_s = token_bytes(32), token_bytes(32)
    ours = HandshakeState(XX, we_initiate, prologue=prologue, s=ours_s, psks=[psk])
    theirs = _theirs(not we_initiate, theirs_s, psk, prologue)
    for n in range(3):
        payload = f"handshake {n}".encode()
        if (n % 2 == 0) == we_initiate:
            assert bytes(theirs.read_message(ours.write_message(payload))) == payload
        else:
            assert ours.read_message(bytes(theirs.write_message(payload))) == payload
    assert ours.complete and theirs.handshake_finished
    assert ours.handshake_hash == theirs.get_handshake_hash()
    assert ours.remote_static == x25519_public(theirs_s)
    send, receive = ours.split()
    for n in range(3):
        assert theirs.decrypt(send.encrypt_with_ad(b"", b"ours %d" % n)) == b"ours %d" % n
        assert receive.decrypt_with_ad(b"", theirs.encrypt(b"theirs %d" % n)) == b"theirs %d" % n
    send.rekey()
    theirs.rekey_inbound_cipher()
    assert theirs.decrypt(send.encrypt_with_ad(b"", b"after rekey")) == b"after rekey"


# --------------------------------------------------------------------------------------
# Attacks and misuse
# --------------------------------------------------------------------------------------

I_S, R_S = bytes([1]) * 32, bytes([2]) * 32
I_E, R_E = bytes([3]) * 32, bytes([4]) * 32
PAYLOADS = [b"one", b"two", b"three"]


def _pair(psk_i: bytes = PSK, psk_r: bytes = PSK) -> tuple[HandshakeState, HandshakeState]:
    return (HandshakeState(XX, True, prologue=b"p", s=I_S, e=I_E, psks=[psk_i]),
            HandshakeState(XX, False, prologue=b"p", s=R_S, e=R_E, psks=[psk_r]))


def _honest() -> list[bytes]:
    init, resp = _pair()
    sent = []
    for n, payload in enumerate(PAYLOADS):
        sender, receiver = (init, resp) if n % 2 == 0 else (resp, init)
        sent.append(sender.write_message(payload))
        receiver.read_message(sent[-1])
    return sent


def _deliver_until(n: int) -> tuple[HandshakeState, HandshakeState]:
    """A fresh pair with the honest messages before message n delivered."""
    init, resp = _pair()
    for k, payload in enumerate(PAYLOADS[:n]):
        sender, receiver = (init, resp) if k % 2 == 0 else (resp, init)
        receiver.read_message(sender.write_message(payload))
    return init, resp


def _transport() -> tuple[tuple[CipherState, CipherState], tuple[CipherState, CipherState]]:
    init, resp = _deliver_until(3)
    return init.split(), resp.split()


def test_every_altered_byte_of_every_handshake_message_is_refused() -> None:
    honest = _honest()
    for n, message in enumerate(honest):
        variants = [message[:i] + bytes([message[i] ^ bit]) + message[i + 1:]
                    for i in range(len(message)) for bit in (0x01, 0x80)]
        variants += [message[:-1], message + b"\0", b"", message[:32]]
        for variant in variants:
            init, resp = _deliver_until(n)
            receiver = resp if n % 2 == 0 else init
            with pytest.raises(NoiseError):
                receiver.read_message(variant)
            assert not receiver.complete and receiver.remote_static is None
            with pytest.raises(NoiseError, match="failed"):  # dead, not merely out of turn
                receiver.write_message(b"")


@pytest.mark.parametrize("wrong", ["initiator", "responder"])
def test_a_wrong_psk_fails_at_the_first_encrypted_payload(wrong: str) -> None:
    other = bytes(reversed(PSK))
    init, resp = _pair(other, PSK) if wrong == "initiator" else _pair(PSK, other)
    first = init.write_message(b"")  # the payload of message 1 is already sealed
    with pytest.raises(NoiseError, match="authentication"):
        resp.read_message(first)


LOW_ORDER = [bytes.fromhex(h) for h in (
    "00" * 32, "01" + "00" * 31,
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
    "ec" + "ff" * 30 + "7f", "ed" + "ff" * 30 + "7f", "ee" + "ff" * 30 + "7f",
)]
LOW_ORDER += [point[:31] + bytes([point[31] | 0x80]) for point in LOW_ORDER]
EVIL = bytes([0x66]) * 32  # the attacker's ephemeral "private key", shown as `point`


@pytest.mark.parametrize("point", LOW_ORDER, ids=lambda p: p.hex()[:8] + p.hex()[-2:])
def test_a_low_order_point_aborts_the_handshake(point: bytes,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # Our own side, handed a bad remote static key (KK knows it in advance):
    kk = HandshakeState("KKpsk0", True, s=I_S, rs=point, psks=[PSK])
    with pytest.raises(NoiseError, match="low-order"):
        kk.write_message(b"")
    # A peer who knows the psk sends a low-order ephemeral key, as either side:
    real = noise.x25519_public
    monkeypatch.setattr(noise, "x25519_public", lambda k: point if k == EVIL else real(k))
    evil_i = HandshakeState(XX, True, prologue=b"p", s=I_S, e=EVIL, psks=[PSK])
    resp = HandshakeState(XX, False, prologue=b"p", s=R_S, psks=[PSK])
    resp.read_message(evil_i.write_message(b""))  # message 1 has no DH yet
    with pytest.raises(NoiseError, match="low-order"):
        resp.write_message(b"")  # ee
    init = HandshakeState(XX, True, prologue=b"p", s=I_S, psks=[PSK])
    evil_r = HandshakeState(XX, False, prologue=b"p", s=R_S, e=EVIL, psks=[PSK])
    evil_r.read_message(init.write_message(b""))
    with pytest.raises(NoiseError, match="low-order"):
        init.read_message(evil_r.write_message(b""))
    with pytest.raises(NoiseError):
        init.write_message(b"")


def test_the_size_limit_on_write_and_read() -> None:
    room = MAX_MESSAGE - 32 - TAG  # message 1 of XXpsk0: e, then the sealed payload
    init, resp = _pair()
    with pytest.raises(NoiseError, match="at most"):
        init.write_message(bytes(room + 1))
    largest = init.write_message(bytes(room))  # refusing the first left no trace
    assert len(largest) == MAX_MESSAGE
    assert resp.read_message(largest) == bytes(room)
    init, resp = _pair()
    with pytest.raises(NoiseError, match="at most"):
        resp.read_message(init.write_message(b"") + bytes(MAX_MESSAGE))
    (send, _), (_, receive) = _transport()
    with pytest.raises(NoiseError, match="at most"):
        send.encrypt_with_ad(b"", bytes(MAX_MESSAGE - TAG + 1))
    assert send.nonce == 0
    with pytest.raises(NoiseError, match="at most"):
        receive.decrypt_with_ad(b"", bytes(MAX_MESSAGE + 1))
    sealed = send.encrypt_with_ad(b"", bytes(MAX_MESSAGE - TAG))
    assert len(sealed) == MAX_MESSAGE
    assert receive.decrypt_with_ad(b"", sealed) == bytes(MAX_MESSAGE - TAG)


def test_out_of_turn_and_after_completion() -> None:
    init, resp = _pair()
    with pytest.raises(NoiseError, match="turn"):
        resp.write_message(b"")
    with pytest.raises(NoiseError, match="turn"):
        init.read_message(bytes(48))
    with pytest.raises(NoiseError, match="complete"):
        init.split()
    with pytest.raises(NoiseError, match="complete"):
        init.handshake_hash  # noqa: B018
    first = init.write_message(b"")  # the refusals moved nothing
    with pytest.raises(NoiseError, match="turn"):
        init.write_message(b"")
    resp.read_message(first)
    init.read_message(resp.write_message(b""))
    resp.read_message(init.write_message(b""))
    for side in (init, resp):
        assert side.complete
        with pytest.raises(NoiseError, match="complete"):
            side.write_message(b"")
        with pytest.raises(NoiseError, match="complete"):
            side.read_message(bytes(64))
        side.split()
        with pytest.raises(NoiseError, match="already"):
            side.split()
        assert len(side.handshake_hash) == 64
    assert init.handshake_hash == resp.handshake_hash
    assert init.remote_static == resp.local_static_public == x25519_public(R_S)
    assert resp.remote_static == init.local_static_public == x25519_public(I_S)


def test_transport_refuses_replays_reordering_and_reflection() -> None:
    (i_send, i_receive), (r_send, r_receive) = _transport()
    one, two = i_send.encrypt_with_ad(b"", b"one"), i_send.encrypt_with_ad(b"", b"two")
    with pytest.raises(NoiseError):
        r_receive.decrypt_with_ad(b"", two)  # reordered
    assert r_receive.decrypt_with_ad(b"", one) == b"one"  # the failure moved no nonce
    with pytest.raises(NoiseError):
        r_receive.decrypt_with_ad(b"", one)  # replayed
    assert r_receive.decrypt_with_ad(b"", two) == b"two"
    back = r_send.encrypt_with_ad(b"", b"back")
    with pytest.raises(NoiseError):
        r_receive.decrypt_with_ad(b"", back)  # reflected to its sender
    with pytest.raises(NoiseError):
        i_receive.decrypt_with_ad(b"x", back)  # other associated data
    assert i_receive.decrypt_with_ad(b"", back) == b"back"


def test_the_nonce_never_reaches_its_reserved_value() -> None:
    last = CipherState(bytes(32), nonce=2**64 - 2)
    last.encrypt_with_ad(b"", b"")
    with pytest.raises(NoiseError, match="exhausted"):
        last.encrypt_with_ad(b"", b"")
    with pytest.raises(NoiseError, match="exhausted"):
        CipherState(bytes(32), nonce=2**64 - 1).decrypt_with_ad(b"", bytes(16))
    with pytest.raises(NoiseError):
        CipherState(bytes(32), nonce=2**64)


@pytest.mark.parametrize("psks", [[bytes(31)], [bytes(33)], [], [PSK, PSK], PSK, b"\x20"],
                         ids=["31-bytes", "33-bytes", "none", "two", "bare-key", "bare-byte"])
def test_a_psk_is_one_32_byte_key(psks: Any) -> None:
    with pytest.raises(NoiseError, match="pre-shared"):
        HandshakeState(XX, True, s=I_S, psks=psks)


@pytest.mark.parametrize("kwargs", [
    {"pattern": "IK"}, {"pattern": "XXpsk9"}, {"pattern": "XXpsk0+psk0"},
    {"pattern": "Noise_XXpsk0_25519_AESGCM_SHA256"}, {"pattern": "XXpsk0_25519_ChaChaPoly_BLAKE2b"},
    {"s": None}, {"s": bytes(31)}, {"rs": bytes(32)}, {"e": bytes(16)},
], ids=repr)
def test_misuse_is_refused_up_front(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {"pattern": XX, "s": I_S, "psks": [PSK]} | kwargs
    with pytest.raises(NoiseError):
        HandshakeState(args.pop("pattern"), True, **args)


def test_the_full_protocol_name_is_the_same_protocol() -> None:
    a = HandshakeState("Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b", True, s=I_S, e=I_E, psks=[PSK])
    b = HandshakeState(XX, True, s=I_S, e=I_E, psks=[PSK])
    assert a.write_message(b"x") == b.write_message(b"x")


def test_random_ephemerals_differ() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        first = HandshakeState(XX, True, s=I_S, psks=[PSK]).write_message()
        second = HandshakeState(XX, True, s=I_S, psks=[PSK]).write_message()
    assert first[:32] != second[:32]
