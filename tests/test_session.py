"""The session handshake: who can open one, what a stranger or a replayer learns."""

from __future__ import annotations

import pytest
from net_helpers import NOW

from ssbmoney.core.errors import GroupNotShared, HandshakeFailed, PeerRefused, ProtocolError
from ssbmoney.core.keys import keypair
from ssbmoney.core.session import (
    CLOCK_TOLERANCE_MS,
    MAGIC,
    REFUSAL_SIZE,
    Accepted,
    Candidate,
    Initiator,
    ReplayCache,
    bind,
    binding_ok,
    finish_response,
    respond,
    session_psk,
)

PSK = session_psk(bytes([7]) * 32)
OTHER_PSK = session_psk(bytes([8]) * 32)
GROUP = bytes([1]) * 32
CLIENT = keypair(bytes([2]) * 32)
SERVER = keypair(bytes([3]) * 32)


def _server(psk: bytes = PSK) -> list[Candidate]:
    return [Candidate(bytes([5]) * 32, OTHER_PSK if psk == PSK else PSK, SERVER.secret),
            Candidate(GROUP, psk, SERVER.secret)]


def _open(now: int = NOW) -> tuple[Initiator, Accepted]:
    client = Initiator(PSK, CLIENT.secret, now)
    answer = respond(client.first, _server(), NOW, ReplayCache())
    assert isinstance(answer, Accepted)
    return client, answer


def test_the_group_whose_key_opens_message_1_is_chosen_and_both_ends_agree() -> None:
    client, answer = _open()
    assert answer.candidate.group == GROUP
    third, mine = client.finish(answer.second)
    theirs = finish_response(answer, third)
    assert mine.handshake_hash == theirs.handshake_hash
    assert theirs.open(mine.seal(b"hello")[0]) == b"hello"
    # Each side's ed25519 key is bound to this session's hash, and to its Noise key.
    sig = bind(CLIENT.secret, theirs.handshake_hash)
    assert binding_ok(CLIENT.public, sig, theirs.handshake_hash, theirs.remote_static)
    assert not binding_ok(SERVER.public, bind(SERVER.secret, theirs.handshake_hash),
                          theirs.handshake_hash, theirs.remote_static)


def test_a_stranger_gets_random_looking_bytes_and_no_server_key() -> None:
    stranger = Initiator(session_psk(bytes([66]) * 32), CLIENT.secret, NOW)
    answers = {respond(stranger.first, _server(), NOW, ReplayCache()) for _ in range(3)}
    for answer in answers:
        assert isinstance(answer, bytes) and len(answer) == REFUSAL_SIZE
    assert len(answers) == 3  # fresh random bytes each time: nothing to fingerprint
    with pytest.raises(GroupNotShared):
        stranger.finish(answers.pop())


def test_a_replayed_message_1_is_refused_like_a_stranger_would_be() -> None:
    cache = ReplayCache()
    client = Initiator(PSK, CLIENT.secret, NOW)
    assert isinstance(respond(client.first, _server(), NOW, cache), Accepted)
    replay = respond(client.first, _server(), NOW + 1000, cache)
    assert isinstance(replay, bytes) and len(replay) == REFUSAL_SIZE
    with pytest.raises(PeerRefused, match="replayed"):
        client.finish(replay)  # only the key holder can read why


@pytest.mark.parametrize("minutes", [16, -20])
def test_a_clock_too_far_off_is_refused_saying_by_how_much(minutes: int) -> None:
    client = Initiator(PSK, CLIENT.secret, NOW + minutes * 60_000)
    answer = respond(client.first, _server(), NOW, ReplayCache())
    assert isinstance(answer, bytes)
    with pytest.raises(PeerRefused, match=f"{abs(minutes)} minutes"):
        client.finish(answer)


def test_a_clock_within_tolerance_is_fine() -> None:
    client = Initiator(PSK, CLIENT.secret, NOW - CLOCK_TOLERANCE_MS + 1000)
    assert isinstance(respond(client.first, _server(), NOW, ReplayCache()), Accepted)


def test_another_protocol_version_is_refused_naming_both() -> None:
    client = Initiator(PSK, CLIENT.secret, NOW)
    first = client.first[:4] + bytes([9]) + client.first[5:]
    answer = respond(first, _server(), NOW, ReplayCache())
    assert isinstance(answer, bytes)
    with pytest.raises(PeerRefused, match="version 1") as err:
        Initiator(PSK, CLIENT.secret, NOW).finish(answer[:5] + bytes([1, 9]))
    assert "version 1" in str(err.value)


def test_garbage_and_low_order_points_never_crash_the_responder() -> None:
    with pytest.raises(HandshakeFailed):
        respond(b"GET / HTTP/1.1", _server(), NOW, ReplayCache())
    zero_e = MAGIC + bytes([1]) + bytes(32) + bytes(24)
    assert isinstance(respond(zero_e, _server(), NOW, ReplayCache()), bytes)


def test_a_tampered_message_2_or_3_fails_authentication() -> None:
    client, answer = _open()
    bad = bytearray(answer.second)
    bad[40] ^= 1
    with pytest.raises(HandshakeFailed):
        client.finish(bytes(bad))
    client, answer = _open()
    third, _ = client.finish(answer.second)
    with pytest.raises(HandshakeFailed):
        finish_response(answer, third[:-1] + bytes([third[-1] ^ 1]))


def test_transport_messages_cannot_be_altered_replayed_or_reordered() -> None:
    client, answer = _open()
    third, mine = client.finish(answer.second)
    theirs = finish_response(answer, third)
    m1, m2 = mine.seal(b"one")[0], mine.seal(b"two")[0]
    with pytest.raises(ProtocolError):
        theirs.open(m2)  # reordered
    assert theirs.open(m1) == b"one"
    with pytest.raises(ProtocolError):
        theirs.open(m1)  # replayed
    with pytest.raises(ProtocolError):
        theirs.open(m2[:-1] + bytes([m2[-1] ^ 1]))  # altered
    assert theirs.open(m2) == b"two"


def test_the_replay_cache_is_bounded() -> None:
    cache = ReplayCache(limit=3)
    for i in range(3):
        assert cache.admit(bytes([i]) * 32, NOW) is None
    assert cache.admit(bytes([9]) * 32, NOW) is not None  # full: refused, not grown
    assert cache.admit(bytes([9]) * 32, NOW + 3 * CLOCK_TOLERANCE_MS) is None  # aged out
    assert len(cache) == 1
