"""Deciding a proposal: which closes count, which votes are inside, and the outcome.

Pure functions, no clocks. A close names the feed heads its author had seen (its
*cut*). A close *saw* another close when its cut reaches that close's sequence in
that close's feed. The closes that saw no other close of the same proposal are the
*first closes*; when there are several (members closed concurrently, each offline),
their cuts are merged, point by point the higher sequence, so the outcome does not
depend on which close arrived first. The votes inside the merged cut count: each
member's latest one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from ssbmoney.core.content import CHOICES


class CloseRef(NamedTuple):
    id: bytes
    feed: bytes
    seq: int
    cut: Mapping[bytes, int]


class Rules(NamedTuple):
    threshold: int = 50  # percent of yes among yes + no
    quorum: int | None = None  # voters needed; None: more than half of the members
    block_vetoes: bool = True


def first_closes(closes: Sequence[CloseRef]) -> list[CloseRef]:
    """The closes that saw no other close of the same proposal.

    A close saw another when its cut reaches that close's sequence in that close's
    feed; it suffices to compare with the earliest close in each feed (and, in its
    own feed, with the earliest close other than itself)."""
    if len(closes) == 1:
        return list(closes)
    seqs: dict[bytes, list[int]] = {}
    for close in closes:
        seqs.setdefault(close.feed, []).append(close.seq)
    earliest = {feed: sorted(found)[:2] for feed, found in seqs.items()}
    firsts = []
    for close in closes:
        saw = False
        for feed, (lowest, *second) in earliest.items():
            if feed == close.feed and lowest == close.seq:
                if not second:
                    continue
                lowest = second[0]
            if close.cut.get(feed, 0) >= lowest:
                saw = True
                break
        if not saw:
            firsts.append(close)
    # Honest closes cannot see each other both ways; cuts that claim so (a stranger's
    # or a broken client's) leave no first close: then all of them count as first.
    return firsts or list(closes)


def merged_cut(closes: Iterable[CloseRef]) -> dict[bytes, int]:
    cut: dict[bytes, int] = {}
    for close in closes:
        for feed, seq in close.cut.items():
            if seq > cut.get(feed, 0):
                cut[feed] = seq
    return cut


def order_key(closes: Sequence[CloseRef]) -> tuple[int, bytes]:
    """Where a proposal stands in the order of decisions: by how much its deciding
    cut had seen, then by the smallest close id. Depends only on the entries."""
    firsts = first_closes(closes)
    return sum(merged_cut(firsts).values()), min(c.id for c in firsts)


def tally(choices: Iterable[str]) -> dict[str, int]:
    counts = dict.fromkeys(CHOICES, 0)
    for choice in choices:
        counts[choice] += 1
    return counts


def quorum_for(rules: Rules, members: int) -> int:
    return rules.quorum if rules.quorum else members // 2 + 1


def approved(counts: Mapping[str, int], members: int, rules: Rules) -> bool:
    """The contract's rule: quorum of voters (abstentions count), at least one yes,
    yes >= threshold % of yes + no, and no block where blocks veto."""
    voters = sum(counts.values())
    yes, no = counts["yes"], counts["no"]
    return (
        voters >= quorum_for(rules, members)
        and yes >= 1
        and yes * 100 >= rules.threshold * (yes + no)
        and not (rules.block_vetoes and counts["block"] > 0)
    )
