"""A real process that writes to (or reads from) a store, for the store tests.

    store_writer.py append DIR GROUP_HEX SEED_HEX [--batches N] [--max-batch K]
                           [--big-every M] [--rng-seed S] [--flush-prob P]
                           [--pause-ms MS] [--go-file PATH]
    store_writer.py read DIR GROUP_HEX STOP_FILE

``append`` opens the store, prints ``ready <head seq>`` (then waits for the go file,
if given), then appends batches of
signed entries to the feed of the key made from SEED_HEX (for ever, or N batches).
Only after ``append`` has returned (the batch is fsynced: acknowledged) does it print
``ack <first seq> <last seq>`` and flush stdout; a parent may SIGKILL it at any moment.
``done <head seq>`` ends a run that was not killed.

``read`` checks, until STOP_FILE exists, that what it reads is always a consistent
store: every feed a complete chain from 1 that validates, heads never going back,
every head findable; it prints ``read <round> <entries>`` per round, ``done ...`` at
the end, and exits 1 with a traceback on the first inconsistency.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

from ssbmoney.core.keys import keypair
from ssbmoney.core.validate import FeedState, Mode, validate_run
from ssbmoney.store.group_store import Store


def run_append(args: argparse.Namespace) -> int:
    group = bytes.fromhex(args.group)
    kp = keypair(bytes.fromhex(args.seed))
    rng = random.Random(args.rng_seed if args.rng_seed is not None else os.getpid())
    with Store(Path(args.directory), group) as store:
        state = store.heads().get(kp.public)
        print(f"ready {state.seq if state else 0}", flush=True)
        if args.go_file:  # so that several writers really start at once
            go = Path(args.go_file)
            while not go.exists():
                time.sleep(0.001)
        done = 0
        while args.batches == 0 or done < args.batches:
            done += 1
            if args.big_every and done % args.big_every == 0:
                # A large write: the kernel may be interrupted inside it (a torn frame).
                count, size = 4 * args.max_batch, 16000
            else:
                count, size = rng.randint(1, args.max_batch), rng.randint(0, 300)
            contents = [
                b"%d:%d:%d:" % (os.getpid(), done, i) + rng.randbytes(size) for i in range(count)
            ]
            made = store.append(kp.secret, kp.public, contents, lambda: 1_700_000_000_000)
            print(f"ack {made[0].seq} {made[-1].seq}", flush=True)
            if rng.random() < args.flush_prob:
                store.flush_index()
            if args.pause_ms:
                time.sleep(rng.uniform(0, args.pause_ms) / 1000)
        print(f"done {store.heads()[kp.public].seq}", flush=True)
    return 0


def _check(store: Store, group: bytes, last: dict[bytes, int]) -> int:
    heads = store.heads()
    for author, seen in last.items():
        assert author in heads and heads[author].seq >= seen, "a head went back"
    for author, state in heads.items():
        chain = store.feed_entries(author)
        assert [e.seq for e in chain] == list(range(1, len(chain) + 1)), "feed has a hole"
        assert len(chain) >= state.seq
        assert chain[state.seq - 1].id == state.head
        result = validate_run(FeedState(author, group), chain, Mode.CHAIN)
        assert result.error is None, result.error
        assert len(result.accepted) == len(chain)
        assert store.get(state.head) == chain[state.seq - 1]
        assert not state.forked
        last[author] = state.seq
    logged = list(store.all_entries())  # every frame decodes
    per_feed: dict[bytes, int] = {}
    for item in logged:
        per_feed[item.author] = per_feed.get(item.author, 0) + 1
    for author, state in heads.items():
        assert per_feed.get(author, 0) >= state.seq
    return len(logged)


def run_read(args: argparse.Namespace) -> int:
    group = bytes.fromhex(args.group)
    directory = Path(args.directory)
    stop = Path(args.stop_file)
    last: dict[bytes, int] = {}
    rounds = 0
    total = 0
    with Store(directory, group) as store:
        print("ready", flush=True)
        while True:
            stopping = stop.exists()
            rounds += 1
            total = _check(store, group, last)
            if rounds % 5 == 0:
                with Store(directory, group) as fresh:  # a new opener catches up too
                    _check(fresh, group, dict(last))
            print(f"read {rounds} {total}", flush=True)
            if stopping:
                break
    print(f"done {rounds} {total}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    append = sub.add_parser("append")
    append.add_argument("directory")
    append.add_argument("group")
    append.add_argument("seed")
    append.add_argument("--batches", type=int, default=0, help="0: until killed")
    append.add_argument("--max-batch", type=int, default=6)
    append.add_argument("--big-every", type=int, default=0)
    append.add_argument("--rng-seed", type=int, default=None)
    append.add_argument("--flush-prob", type=float, default=0.2)
    append.add_argument("--pause-ms", type=float, default=0, help="random pause per batch")
    append.add_argument("--go-file", default=None, help="wait for this file after ready")
    read = sub.add_parser("read")
    read.add_argument("directory")
    read.add_argument("group")
    read.add_argument("stop_file")
    args = parser.parse_args(argv)
    if args.command == "append":
        return run_append(args)
    return run_read(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
