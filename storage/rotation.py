"""Key rotation: a seal (`purpose: "rotate"`) in which the old key and the new key vouch for
each other, and the chain of keys a verifier derives from one key it trusts.

A rotation seal is an ordinary seal signed by the old key; its note names both public keys
and carries the new key's signature over the rotation statement (the sealed head and both
keys). So a verifier that trusts any one key of the chain can walk it both ways: forward (the
trusted key signed the seal naming its successor) and backward (the trusted key signed the
statement naming its predecessor). Each key's seals are accepted only between the rotation
that introduced it and the one that retired it (by sealed seq). A seal by a key no recorded
rotation links to the trusted key is refused, and so is a rotation seal whose signatures do
not verify (forged), or a second rotation away from the same key (a fork). See
docs/DESIGN-notes.md.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from connectors.errors import StorageError
from storage import keys
from storage.canonical import canonical
from storage.ledger import Seal

ROTATE = "rotate"
STATEMENT = "evidence-agent.key-rotation"


def statement(seq: int, head_hash: str, old_pem: str, new_pem: str) -> bytes:
    """The bytes the new key signs: the head at the rotation and both public keys."""
    return canonical({"type": STATEMENT, "seq": seq, "head_hash": head_hash,
                      "old_public_key": old_pem, "new_public_key": new_pem})


def rotation_note(old: Ed25519PrivateKey, new: Ed25519PrivateKey, seq: int, head_hash: str,
                  reason: str | None) -> str:
    """The note of a rotation seal at (seq, head_hash): both keys, the new key's signature."""
    old_pem, new_pem = keys.public_pem(old.public_key()), keys.public_pem(new.public_key())
    return json.dumps({
        "type": STATEMENT, "old_key_id": keys.key_id(old.public_key()),
        "old_public_key": old_pem, "new_key_id": keys.key_id(new.public_key()),
        "new_public_key": new_pem,
        "new_key_signature": keys.sign(new, statement(seq, head_hash, old_pem, new_pem)),
        "reason": reason}, sort_keys=True)


@dataclass(frozen=True)
class Rotation:
    """A rotation seal whose two signatures verify (the old key's over the seal, the new
    key's over the statement)."""

    seal: Seal
    old: Ed25519PublicKey
    new: Ed25519PublicKey

    @property
    def old_id(self) -> str:
        return self.seal.key_id

    @property
    def new_id(self) -> str:
        return keys.key_id(self.new)


def parse(seal: Seal) -> Rotation:
    """The rotation a `rotate` seal records; ValueError saying why it is not a valid one."""
    try:
        note: Any = json.loads(seal.note or "")
    except ValueError:
        raise ValueError("its note is not a rotation statement") from None
    if not isinstance(note, dict) or note.get("type") != STATEMENT:
        raise ValueError("its note is not a rotation statement")
    try:
        old = keys.load_public_pem(str(note["old_public_key"]))
        new = keys.load_public_pem(str(note["new_public_key"]))
    except (KeyError, StorageError) as e:
        raise ValueError(f"it does not name both public keys ({e})") from None
    if keys.key_id(old) != seal.key_id:
        raise ValueError(f"it is signed by key {seal.key_id}, not by the old key it names "
                         f"({keys.key_id(old)})")
    if keys.key_id(old) == keys.key_id(new):
        raise ValueError("it rotates a key to itself")
    if not keys.verify(old, seal.payload(), seal.signature):
        raise ValueError(f"its signature does not verify with the old key {seal.key_id}")
    if not keys.verify(new, statement(seal.seq, seal.head_hash, str(note["old_public_key"]),
                                      str(note["new_public_key"])),
                       str(note.get("new_key_signature", ""))):
        raise ValueError(f"the new key {keys.key_id(new)} did not sign it")
    return Rotation(seal, old, new)


@dataclass
class KeyChain:
    """The keys trusted from one anchor key, each with the seqs at which its seals count."""

    anchor: str
    pubs: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    window: dict[str, tuple[int, int | None]] = field(default_factory=dict)  # id -> from, to
    rotations: list[Rotation] = field(default_factory=list)  # in chain order
    problems: list[tuple[str, str]] = field(default_factory=list)  # (subject, detail)
    # per key ID k: (pubs[k], the ID computed from it), so why_not computes it once per key
    _ids: dict[str, tuple[Ed25519PublicKey, str]] = field(default_factory=dict, repr=False,
                                                          compare=False)

    @property
    def current(self) -> str:
        """The newest key of the chain (the one that may seal now)."""
        return self.rotations[-1].new_id if self.rotations else self.anchor

    def why_not(self, seal: Seal) -> str | None:
        """Why `seal` is not trusted under this chain, or None when it is."""
        pub = self.pubs.get(seal.key_id)
        if pub is None:
            return (f"signed by unknown key {seal.key_id}: no recorded key rotation links it to "
                    f"the trusted key {self.anchor}")
        # Seal.valid(pub), with the key's ID computed once per key rather than per seal
        known = self._ids.get(seal.key_id)
        if known is None or known[0] is not pub:
            known = self._ids[seal.key_id] = (pub, keys.key_id(pub))
        if known[1] != seal.key_id or not keys.verify(pub, seal.payload(), seal.signature):
            return "signature does not verify"
        lo, hi = self.window[seal.key_id]
        if seal.seq < lo:
            return (f"signed by key {seal.key_id} at #{seal.seq}, before the rotation to it at "
                    f"#{lo}")
        if hi is not None and seal.seq > hi:
            return (f"signed by key {seal.key_id} at #{seal.seq}, after it was rotated out at "
                    f"#{hi}")
        return None

    def valid(self, seal: Seal) -> bool:
        return self.why_not(seal) is None


def key_chain(anchor: Ed25519PublicKey, rotation_seals: Iterable[tuple[str, Seal]]) -> KeyChain:
    """The chain of keys linked to `anchor` by the rotation seals given (label, seal), in
    ledger order. Forged rotations and forks are reported in `problems` and not followed."""
    aid = keys.key_id(anchor)
    ch = KeyChain(aid)
    valid: list[tuple[str, Rotation]] = []
    seen: set[tuple[int, str]] = set()
    for label, s in rotation_seals:
        if (s.seq, s.signature) in seen:
            continue  # the same seal from the index and from the seal store
        seen.add((s.seq, s.signature))
        try:
            valid.append((label, parse(s)))
        except ValueError as e:
            ch.problems.append((label, f"forged key rotation: {e}"))
    # one linear chain: each key is rotated away from at most once, and never back to
    by_old: dict[str, Rotation] = {}
    by_new: dict[str, Rotation] = {}
    for label, r in valid:
        if r.old_id in by_old:
            prior = by_old[r.old_id]
            ch.problems.append((label, f"second rotation away from key {r.old_id} (to "
                                f"{r.new_id}; it was rotated to {prior.new_id} at "
                                f"#{prior.seal.seq}): not followed"))
        elif r.new_id in by_new or r.new_id in by_old:
            ch.problems.append((label, f"rotation to key {r.new_id}, which was already in use: "
                                "not followed"))
        else:
            by_old[r.old_id] = r
            by_new[r.new_id] = r
    # back from the anchor to the chain's first key (each step signed by the later key) ...
    first = aid
    while first in by_new:
        first = by_new[first].old_id
    # ... then forward from it (each step signed by the earlier key)
    ch.pubs = {first: by_old[first].old if first != aid else anchor}
    k = first
    while k in by_old:
        r = by_old[k]
        ch.rotations.append(r)
        k = r.new_id
        ch.pubs[k] = r.new
    ids = [first] + [r.new_id for r in ch.rotations]
    for i, kid in enumerate(ids):
        lo = ch.rotations[i - 1].seal.seq if i > 0 else 0
        hi = ch.rotations[i].seal.seq if i < len(ch.rotations) else None
        ch.window[kid] = (lo, hi)
    for label, r in valid:
        if r not in ch.rotations and (r.old_id in ch.pubs or r.new_id in ch.pubs) and \
                not any(label == p[0] for p in ch.problems):
            ch.problems.append((label, f"key rotation {r.old_id} -> {r.new_id} is not part of "
                                "the chain of trusted keys"))
    return ch
