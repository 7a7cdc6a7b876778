"""Messages: what one member writes is exactly what every other member can read, and
no member's text can rewrite what another's terminal shows."""

from __future__ import annotations

import msgpack
import pytest

from ssbmoney.core import content as msg

KEY = b"k" * 32


@pytest.mark.parametrize("title", ["line\nbreak", "esc\x1b[31mred", "bell\x07", "c1\x9b",
                                   "bidi\u202eevil", "tab\there"])
def test_control_characters_are_refused_in_one_line_fields(title: str) -> None:
    with pytest.raises(msg.BadContent, match="control characters"):
        msg.encode(msg.Proposal(title, 5, "", "", None, None))
    forged = msgpack.packb(["proposal", title, 5, "", "", None, None])
    with pytest.raises(msg.BadContent):
        msg.parse(forged)


def test_notes_and_comments_may_hold_line_breaks_and_tabs_only() -> None:
    assert msg.parse(msg.encode(msg.Deposit(5, "two\nlines\tand a tab"))) == msg.Deposit(
        5, "two\nlines\tand a tab")
    assert msg.parse(msg.encode(msg.Vote(KEY, "yes", "ok\nfine"))).comment == "ok\nfine"
    for bad in ("\x1b[2J", "\x00", "\u2066"):
        with pytest.raises(msg.BadContent):
            msg.encode(msg.Vote(KEY, "yes", bad))
        with pytest.raises(msg.BadContent):
            msg.encode(msg.Deposit(5, bad))


def test_non_ascii_text_is_fine() -> None:
    title = "Café für Zoë, 東京 trip — ½ price\u00a0now"
    assert msg.parse(msg.encode(msg.Proposal(title, 5, "", "", None, None))).title == title


def test_unknown_fields_after_the_known_ones_are_ignored() -> None:
    later_version = msgpack.packb(["deposit", 5, "note", "a field from the future"])
    assert msg.parse(later_version) == msg.Deposit(5, "note")
    for short in (["deposit", 5], ["vote", KEY], [], {"type": "deposit"}):
        with pytest.raises(msg.BadContent):
            msg.parse(msgpack.packb(short))


def test_every_message_round_trips() -> None:
    messages: list[msg.Message] = [
        msg.Join(KEY, "Ana", b"s" * 64),
        msg.Found("Pot", "EUR", (KEY,), 60, 2, False),
        msg.Deposit(1, ""),
        msg.Proposal("t", 2, "p", "c", 0, None),
        msg.Proposal("admit", None, "", "", None, KEY),  # an admission carries no amount
        msg.Vote(KEY, "block", ""),
        msg.Close(KEY, ((KEY, 3, KEY),)),  # heads are (feed, sequence, entry id)
        msg.Spend(KEY, 3, "p", "n"),
        msg.Withdraw(KEY),
        msg.Reverse(KEY, "oops"),
    ]
    for message in messages:
        assert msg.parse(msg.encode(message)) == message


def test_admissions_carry_no_amount_and_spending_proposals_need_one() -> None:
    with pytest.raises(msg.BadContent, match="no amount"):
        msg.encode(msg.Proposal("admit", 5, "", "", None, KEY))
    with pytest.raises(msg.BadContent, match="amount"):
        msg.encode(msg.Proposal("spend", None, "", "", None, None))


def test_a_vote_choice_is_a_one_byte_code() -> None:
    sizes = set()
    for code, choice in enumerate(msg.CHOICES):
        data = msg.encode(msg.Vote(KEY, choice, ""))
        assert msgpack.unpackb(data)[2] == code == msg.CHOICE_CODES[choice]
        sizes.add(len(data))
    assert len(sizes) == 1
    for bad in ("yes", 4, -1, True, None):
        with pytest.raises(msg.BadContent):
            msg.parse(msgpack.packb(["vote", KEY, bad, ""]))


def test_close_heads_must_be_feed_sequence_and_id() -> None:
    for head in ([KEY, 3], [KEY, 0, KEY], [KEY, 3, b"short"], [KEY, 2**53, KEY],
                 [b"short", 3, KEY], "head"):
        with pytest.raises(msg.BadContent):
            msg.parse(msgpack.packb(["close", KEY, [head]]))
