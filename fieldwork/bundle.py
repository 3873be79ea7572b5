"""Export bundles that an auditor verifies offline, with no database and no trust in ours.

A bundle is a zip:

    manifest.json     what was asked (controls, as-of, since), which records answer it
    ledger.jsonl      every record from the first selected one to the seal, in chain order
    blobs/<sha256>    content, provenance and findings of the selected records
    seal.json         the ledger head at export time, signed with Ed25519
    public_key.pem    the key that signed it (pin it: compare with `evidence key export`)
    SHA256SUMS        every file above, as `sha256sum -c` reads it

The ledger segment runs unbroken up to the seal, so the seal commits to every record in
it, and each selected record's blobs are re-hashed against the names its record gives.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from collector.errors import StorageError
from storage import keys
from storage.canonical import canonical, iso
from storage.ledger import Seal, record_hash
from storage.queries import as_of, ledger_segment
from storage.store import EvidenceStore

FORMAT = "evidence-agent.bundle/1"
BLOB_COLUMNS = ("content_sha256", "ipe_sha256", "findings_sha256")


@dataclass
class ExportSummary:
    """What went into a bundle."""

    path: Path
    records: int
    segment: tuple[int, int]
    blobs: int
    seal: Seal


def export_bundle(store: EvidenceStore, out: Path, criteria: Sequence[str],
                  when: datetime, since: datetime | None,
                  query: dict[str, Any]) -> ExportSummary:
    """Write the evidence for `criteria` as of `when` to the zip `out` (atomically)."""
    res = as_of(store.engine, criteria, when, since)
    selected = sorted(r["seq"] for r in res["records"])
    if not selected:
        raise StorageError("nothing to export: no record answers that query")
    seal = store.seal(None)
    first = selected[0]
    files: dict[str, bytes] = {}
    blobs: set[str] = set()
    lines: list[bytes] = []
    wanted = set(selected)
    ids: list[str] = []
    for r in ledger_segment(store.engine, first, seal.seq):
        lines.append(canonical(r) + b"\n")
        if r["seq"] in wanted:
            ids.append(r["id"])
            blobs.update(r[c] for c in BLOB_COLUMNS if r[c])
    files["ledger.jsonl"] = b"".join(lines)
    for sha in sorted(blobs):
        files[f"blobs/{sha}"] = store.blobs.get(sha)
    files["seal.json"] = json.dumps(seal.to_json(), indent=2).encode()
    files["public_key.pem"] = keys.public_pem(store.public_key()).encode()
    manifest = {"format": FORMAT, "exported_at": iso(store.clock()), "query": query,
                "records": ids, "segment": {"from": first, "to": seal.seq},
                "key_id": seal.key_id, "no_evidence_yet": res["no_evidence_yet"]}
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in sorted(files.items()))
    files["SHA256SUMS"] = sums.encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    os.replace(tmp, out)
    return ExportSummary(out, len(ids), (first, seal.seq), len(blobs), seal)


@dataclass
class BundleReport:
    """What verify-bundle checked and found."""

    records: int = 0
    segment: tuple[int, int] = (0, 0)
    key_id: str = ""
    key_pinned: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "records": self.records, "segment": list(self.segment),
                "key_id": self.key_id, "key_pinned": self.key_pinned,
                "problems": self.problems}


def verify_bundle(path: Path, *, pinned: Ed25519PublicKey | None = None,
                  against: Seal | None = None) -> BundleReport:
    """Check a bundle with nothing but its own bytes (and, ideally, a pinned public key)."""
    rep = BundleReport()
    try:
        z = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        rep.problems.append(f"{path}: not a readable zip ({e})")
        return rep
    with z:
        names = set(z.namelist())
        data = {n: z.read(n) for n in names}
    sums_raw = data.pop("SHA256SUMS", None)
    if sums_raw is None:
        rep.problems.append("SHA256SUMS is missing")
        return rep
    listed: dict[str, str] = {}
    for line in sums_raw.decode("utf-8", "replace").splitlines():
        digest, _, name = line.partition("  ")
        listed[name] = digest
    for name in sorted(set(listed) | set(data)):
        if name not in data:
            rep.problems.append(f"{name}: listed in SHA256SUMS but missing")
        elif name not in listed:
            rep.problems.append(f"{name}: present but not listed in SHA256SUMS")
        elif hashlib.sha256(data[name]).hexdigest() != listed[name]:
            rep.problems.append(f"{name}: does not match SHA256SUMS")
    try:
        manifest = json.loads(data["manifest.json"])
        seal = Seal.from_json(json.loads(data["seal.json"]))
        bundled_key = keys.load_public_pem(data["public_key.pem"])
    except (KeyError, ValueError, TypeError, StorageError) as e:
        rep.problems.append(f"manifest, seal or public key unreadable: {e}")
        return rep
    if manifest.get("format") != FORMAT:
        rep.problems.append(f"manifest.json: unknown format {manifest.get('format')!r}")
    rep.key_id = seal.key_id
    key = bundled_key
    if pinned is not None:
        rep.key_pinned = True
        if keys.key_id(pinned) != keys.key_id(bundled_key):
            rep.problems.append(f"public_key.pem is key {keys.key_id(bundled_key)}, not the "
                                f"pinned key {keys.key_id(pinned)}")
        key = pinned
    if not seal.valid(key):
        rep.problems.append(f"seal.json: signature does not verify with key {keys.key_id(key)}")

    seg = manifest.get("segment", {})
    rep.segment = (int(seg.get("from", 0)), int(seg.get("to", 0)))
    chain: dict[int, dict[str, Any]] = {}
    prev: str | None = None
    expected = rep.segment[0]
    for i, raw in enumerate(data.get("ledger.jsonl", b"").splitlines(), 1):
        try:
            r = json.loads(raw)
        except ValueError:
            rep.problems.append(f"ledger.jsonl:{i}: not JSON")
            continue
        seq = int(r.get("seq", -1))
        if seq != expected:
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} where #{expected} was due "
                                "(records missing or reordered)")
        if record_hash(r) != r.get("record_hash"):
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} edited: fields do not match "
                                "its record_hash")
        if prev is not None and r.get("prev_hash") != prev:
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} does not link to #{seq - 1}")
        prev = r.get("record_hash")
        chain[seq] = r
        expected = seq + 1
    last = chain.get(seal.seq)
    if seal.seq != rep.segment[1] or last is None:
        rep.problems.append(f"seal.json seals #{seal.seq}, but the ledger segment ends at "
                            f"#{expected - 1}")
    elif last["record_hash"] != seal.head_hash:
        rep.problems.append(f"seal.json: head hash does not match record #{seal.seq}")

    by_id = {r["id"]: r for r in chain.values()}
    for rid in manifest.get("records", []):
        r = by_id.get(rid)
        if r is None:
            rep.problems.append(f"record {rid} is in the manifest but not in the ledger")
            continue
        rep.records += 1
        for col in BLOB_COLUMNS:
            sha = r.get(col)
            if not sha:
                continue
            blob = data.get(f"blobs/{sha}")
            if blob is None:
                rep.problems.append(f"record {rid}: {col} blob {sha} missing from the bundle")
            elif hashlib.sha256(blob).hexdigest() != sha:
                rep.problems.append(f"record {rid}: {col} blob {sha} content changed")
    if against is not None:
        if not against.valid(key):
            rep.problems.append("kept seal: signature does not verify")
        elif against.seq > seal.seq:
            rep.problems.append(f"kept seal is at #{against.seq}, beyond this bundle's seal "
                                f"#{seal.seq}: the ledger was cut back")
        elif against.seq in chain:
            if chain[against.seq]["record_hash"] != against.head_hash:
                rep.problems.append(f"kept seal at #{against.seq} does not match the ledger: "
                                    "history was rewritten")
        else:
            rep.problems.append(f"kept seal at #{against.seq} is before this bundle's segment "
                                f"(#{rep.segment[0]}..): cannot be compared")
    return rep

