"""One error base for everything a user, a peer or a file can get wrong.

Every error has a stable ``kind`` (machine-readable, used in ``--json`` output and
in audit reports), a message that says what was wrong, and the process exit code
the command line uses for it. Errors are rendered for people in exactly one place
(``ssbmoney.cli``); everywhere else they are values to raise or collect.
"""

from __future__ import annotations


class SsbMoneyError(Exception):
    """Base of every error ssbmoney raises on purpose."""

    kind = "error"
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadInput(SsbMoneyError):
    """The user asked for something malformed or impossible (exit 2, nothing written)."""

    kind = "bad_input"
    exit_code = 2


class IdentityExists(BadInput):
    kind = "identity_exists"


class NoIdentity(BadInput):
    kind = "no_identity"


class OperationFailed(SsbMoneyError):
    """A well-formed operation could not be carried out (peer unreachable, refused)."""

    kind = "operation_failed"
    exit_code = 1


class StoreError(SsbMoneyError):
    """The on-disk store is unusable in a way we cannot repair by ourselves."""

    kind = "store_error"
    exit_code = 1


# --------------------------------------------------------------------------------------
# Validation: each way an entry can be wrong. ``fatal`` marks errors that poison the feed
# from that point (a fork); every other error only rejects the entry (and the entries
# that depend on it), leaving the feed open for a correct copy later.
# --------------------------------------------------------------------------------------


class ValidationError(SsbMoneyError):
    """An entry (or a run of entries) that must not be accepted."""

    kind = "invalid"
    exit_code = 3
    fatal = False

    def __init__(
        self,
        message: str,
        *,
        feed: bytes | None = None,
        seq: int | None = None,
        entry: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.feed = feed
        self.seq = seq
        self.entry = entry

    def located(self, feed: bytes | None, seq: int | None, entry: bytes | None) -> ValidationError:
        """Fill in where the error happened, where the raiser did not know."""
        if self.feed is None:
            self.feed = feed
        if self.seq is None:
            self.seq = seq
        if self.entry is None:
            self.entry = entry
        return self


class MalformedEntry(ValidationError):
    kind = "malformed"


class TruncatedEntry(MalformedEntry):
    kind = "truncated"


class NonCanonical(ValidationError):
    kind = "non_canonical"


class Oversized(ValidationError):
    kind = "oversized"


class UnsupportedVersion(ValidationError):
    kind = "unsupported_version"


class WrongAuthor(ValidationError):
    kind = "wrong_author"


class WrongGroup(ValidationError):
    kind = "wrong_group"


class SequenceGap(ValidationError):
    kind = "sequence_gap"


class WrongPrevious(ValidationError):
    kind = "wrong_previous"


class BadSignature(ValidationError):
    kind = "bad_signature"


class ContentHashMismatch(ValidationError):
    kind = "content_hash_mismatch"


class ContentSizeMismatch(ValidationError):
    kind = "content_size_mismatch"


class MissingContent(ValidationError):
    """An entry without its content (pruned, e.g. by a relay): never stored or taken in."""

    kind = "missing_content"


class Fork(ValidationError):
    """Two different, validly signed entries at one sequence of one feed."""

    kind = "fork"
    fatal = True


class BadForkProof(ValidationError):
    """A claimed fork proof that does not prove a fork."""

    kind = "bad_fork_proof"


class ForkedFeed(ValidationError):
    """The feed already holds a fork proof: nothing more is accepted from it."""

    kind = "forked_feed"
    fatal = True


# --------------------------------------------------------------------------------------
# Sync: what a peer, a stranger or the network can do wrong. All exit 1 (an operation
# failed); the message says which peer and what.
# --------------------------------------------------------------------------------------


class PeerUnreachable(OperationFailed):
    """No connection could be made, or it was cut before the sync finished."""

    kind = "unreachable"


class HandshakeFailed(OperationFailed):
    """The session could not be authenticated: a wrong capability, a tampered or
    replayed message, a clock too far off, a stranger."""

    kind = "handshake_failed"


class PeerRefused(OperationFailed):
    """The peer said no: it shares no group with us, or speaks another protocol version."""

    kind = "refused"


class ProtocolError(OperationFailed):
    """A peer broke the sync protocol (a malformed, oversized or out-of-turn message):
    the session ends, and what was already stored stays."""

    kind = "protocol_error"


class GroupNotShared(PeerRefused):
    """The peer holds no group this key opens (a stranger's answer looks the same)."""

    kind = "not_shared"
