"""Crash safety with real processes: SIGKILL a writer at random moments, again and again.

A writer process (``store_writer.py``) appends batches for ever and reports each batch
only after ``append`` returned, i.e. after the log was fsynced: that report is the
acknowledgement. The parent kills it at a seeded-random moment (while it starts,
opens the store, signs, writes a frame, syncs, or updates the index), restarts it on
the same directory, and after every kill opens the store itself and proves:

* every acknowledged sequence is there, and the feed never goes back;
* the log is whole: every frame is good and decodes (a torn tail is cut on opening);
* the feed is the complete chain 1..head and validates from sequence 1 in FULL mode
  (every signature) with no error, and the index agrees with the log;
* the restarted writer carries on from exactly the head the parent saw.

Then two writers (one feed each) run on one home at once, killed and restarted
independently: both feeds stay complete and their frames never interleave.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from store_fixtures import GROUP, Child, check_store, log_bytes, member, writer_args

from ssbmoney.core import entry as entry_mod
from ssbmoney.core import framing
from ssbmoney.store.group_store import LOG_NAME, Store

KILLS = 32
SEED = 0x55B_0C0A


def _ready_seq(child: Child) -> int | None:
    for line in child.lines:
        if line.startswith("ready "):
            return int(line.split()[1])
    return None


def _kill(child: Child) -> None:
    assert child.proc.poll() is None, f"writer exited by itself:\n{child.stderr()}"
    child.kill()
    code = child.wait(30)
    assert code == -signal.SIGKILL, f"exit {code}:\n{child.stderr()}"


def test_sigkilled_writer_never_loses_an_acknowledged_entry(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    gdir = tmp_path / "g"
    kp = member(30)
    acked: set[int] = set()
    head = 0
    torn = early = injected = 0
    started = time.monotonic()
    for round_no in range(KILLS):
        child = Child(
            writer_args(
                gdir, kp, "--max-batch", "4", "--big-every", "9", "--pause-ms", "3",
                "--rng-seed", str(round_no), "--flush-prob", "0.3",
            ),
            tmp_path / f"writer{round_no}.err",
        )
        if rng.random() < 0.15:
            # Kill it while it starts or opens the store (catching up, cutting a tail).
            early += 1
            time.sleep(rng.uniform(0.05, 0.4))
        else:
            assert child.ready.wait(30), child.stderr()
            time.sleep(rng.uniform(0.003, 0.15))
        _kill(child)

        ready = _ready_seq(child)
        assert ready is None or ready == head, "the writer did not resume at the head"
        new = child.acked()
        assert all(seq > head for seq in new), "a sequence was acknowledged twice"
        acked |= new
        data = log_bytes(gdir) if (gdir / LOG_NAME).exists() else b""
        start = min(len(data), framing.MAGIC_SIZE)  # past the log's magic
        torn += framing.good_end(data, start) != len(data)

        heads = check_store(gdir)  # opens (cutting any torn tail), FULL validation
        now = heads[kp.public].seq if kp.public in heads else 0
        assert now >= head, "the feed went back"
        assert acked <= set(range(1, now + 1)), "an acknowledged entry is missing"
        head = now
        if rng.random() < 0.3:
            # As if a write of the next frame was cut short: the restarted writer must
            # cut it (or, killed while opening, leave it for the next opener to cut).
            with Store(gdir, GROUP) as store:
                prev = store.heads()[kp.public].head if head else None
            nxt = entry_mod.create(kp.secret, kp.public, GROUP, head + 1, prev, 1, b"torn")
            frame = framing.frame(nxt.raw)
            with open(gdir / LOG_NAME, "ab") as f:
                f.write(frame[: rng.randrange(1, len(frame))])
            injected += 1
    elapsed = time.monotonic() - started
    assert len(acked) > KILLS, "the writer hardly ever got to append: the test proved little"
    with Store(gdir, GROUP) as store:
        assert store.forks() == []
        assert store.count() == head
    print(f"\n{KILLS} kills ({early} early), {injected} torn frames put in, {torn} torn"
          f" tails seen after a kill, {len(acked)} acked, {head} entries, {elapsed:.1f}s")


def test_two_writers_on_one_home_killed_and_restarted(tmp_path: Path) -> None:
    rng = random.Random(SEED + 1)
    gdir = tmp_path / "g"
    kps = [member(31), member(32)]
    acked: list[set[int]] = [set(), set()]
    heads_seen = [0, 0]

    def check() -> dict[bytes, int]:
        heads = check_store(gdir)  # every frame good and decoding: no interleaving
        seqs = {a: s.seq for a, s in heads.items()}
        for i, kp in enumerate(kps):
            now = seqs.get(kp.public, 0)
            assert now >= heads_seen[i]
            assert acked[i] <= set(range(1, now + 1))
            heads_seen[i] = now
        return seqs

    for round_no in range(8):
        children = [
            Child(
                writer_args(gdir, kp, "--max-batch", "5", "--big-every", "6", "--pause-ms", "2",
                            "--rng-seed", str(100 * round_no + i)),
                tmp_path / f"w{round_no}-{i}.err",
            )
            for i, kp in enumerate(kps)
        ]
        for child in children:
            assert child.ready.wait(30), child.stderr()
        time.sleep(rng.uniform(0.01, 0.12))
        order = [0, 1]
        rng.shuffle(order)
        for i in order:
            _kill(children[i])
            time.sleep(rng.uniform(0.0, 0.03))
        for i, child in enumerate(children):
            acked[i] |= child.acked()
        check()

    # Finally both run to the end: each feed is complete, up to what each reported.
    children = [
        Child(writer_args(gdir, kp, "--batches", "25", "--big-every", "4",
                          "--rng-seed", str(7 + i)), tmp_path / f"final{i}.err")
        for i, kp in enumerate(kps)
    ]
    for child in children:
        assert child.wait(120) == 0, child.stderr()
    for i, child in enumerate(children):
        acked[i] |= child.acked()
    seqs = check()
    for i, (kp, child) in enumerate(zip(kps, children, strict=True)):
        assert child.lines[-1] == f"done {seqs[kp.public]}"
        assert acked[i] and max(acked[i]) == seqs[kp.public]
    with Store(gdir, GROUP) as store:
        logged = list(store.all_entries())
        assert {e.author for e in logged} == {kp.public for kp in kps}
        assert len(logged) == sum(seqs.values())
        assert store.forks() == []
