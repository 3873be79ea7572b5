"""Export bundles that an auditor verifies offline, with no database and no trust in ours.

A bundle is a zip:

    manifest.json     what was asked (controls, as-of, since), which records answer it
    ledger.jsonl      every record from the first selected one to the seal, in chain order
    blobs/<sha256>    content, provenance and findings of the selected records
    seal.json         the ledger head at export time, signed with Ed25519
    seals.jsonl       the run seals that vouch for each selected record (who wrote it)
    rotations.jsonl   every key rotation of the store (storage/rotation.py), so a verifier
                      who pinned an older key follows the chain to the one that signed
    public_key.pem    the key that signed it (pin it: compare with `evidence key export`)
    SHA256SUMS        every file above, as `sha256sum -c` reads it
    SHA256SUMS.sig    SHA256SUMS's hash and the sealed head, signed: everything the bundle
                      claims (the manifest's query and record list included) is authenticated

The ledger segment runs unbroken up to the seal and ends there, so the seal commits to every
record in it; each selected record must be vouched for by a run seal, and its blobs are
re-hashed against the names its record gives. The zip is read streaming, entry by entry,
with limits, so a hostile bundle cannot exhaust memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from collector.errors import ConfigError, StorageError
from storage import keys
from storage.canonical import canonical, iso
from storage.ledger import Seal, record_hash
from storage.queries import as_of, ledger_segment, seals_between
from storage.rotation import key_chain
from storage.store import EvidenceStore

FORMAT = "evidence-agent.bundle/2"
STATEMENT = "evidence-agent.bundle-statement"
# Limits for reading a bundle: control files are held in memory, ledger lines parsed one by
# one; blobs are only hashed, streaming.
MAX_CONTROL = 64 << 20  # a 1M-record manifest is ~25 MB; seals.jsonl ~500 bytes a run
MAX_LINE = 16 << 20  # one ledger record (canonical JSON, ~1-2 KB)
CONTROL = ("manifest.json", "seal.json", "seals.jsonl", "rotations.jsonl", "public_key.pem",
           "SHA256SUMS", "SHA256SUMS.sig")
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
                  query: dict[str, Any], *, force: bool = False) -> ExportSummary:
    """Write the evidence for `criteria` as of `when` to the zip `out` (atomically; an
    existing file only with `force`, and never anything but a regular file)."""
    check_output_path(out, force)
    res = as_of(store.engine, criteria, when, since)
    selected = sorted(r["seq"] for r in res["records"])
    if not selected:
        raise StorageError("nothing to export: no record answers that query")
    seal = store.seal(None, purpose="export")
    first = selected[0]
    wanted = set(selected)
    # only seals the store's keys signed count (an index row an insider wrote says nothing),
    # and only where they seal the chain as it is
    chain = store.key_chain(store.key.public_key())
    signed = [s for s in (Seal.from_row(row)
                          for row in seals_between(store.engine, first, seal.seq))
              if chain.valid(s)]
    heads = {s.seq for s in signed}
    hashes: dict[int, str] = {}
    files: dict[str, bytes] = {}
    blobs: set[str] = set()
    lines: list[bytes] = []
    ids: list[str] = []
    for r in ledger_segment(store.engine, first, seal.seq):
        lines.append(canonical(r) + b"\n")
        if r["seq"] in heads:
            hashes[r["seq"]] = r["record_hash"]
        if r["seq"] in wanted:
            ids.append(r["id"])
            blobs.update(r[c] for c in BLOB_COLUMNS if r[c])
    vouching: dict[int, Seal] = {}
    for s in signed:
        if hashes.get(s.seq) != s.head_hash:
            continue
        hits = [q for a, b in s.vouches for q in wanted if a <= q <= b and q not in vouching]
        for q in hits:
            vouching[q] = s
    unsealed = sorted(wanted - set(vouching))
    if unsealed:
        raise StorageError("records " + ", ".join(f"#{q}" for q in unsealed[:20]) + " answer "
                           "the query but no seal vouches for them (a run still going, or "
                           "records no run wrote): run `evidence verify`")
    files["ledger.jsonl"] = b"".join(lines)
    for sha in sorted(blobs):
        files[f"blobs/{sha}"] = store.blobs.get(sha)
    files["seal.json"] = json.dumps(seal.to_json(), indent=2).encode()
    used = sorted({(s.seq, s.signature): s for s in vouching.values()}.values(),
                  key=lambda s: s.seq)
    files["seals.jsonl"] = b"".join(canonical(s.to_json()) + b"\n" for s in used)
    files["public_key.pem"] = keys.public_pem(store.key.public_key()).encode()
    # every key rotation, so a verifier who pinned an older key follows it to this one
    files["rotations.jsonl"] = b"".join(canonical(s.to_json()) + b"\n"
                                        for _label, s in store.rotation_seals())
    manifest = {"format": FORMAT, "exported_at": iso(store.clock()), "query": query,
                "records": ids, "segment": {"from": first, "to": seal.seq},
                "key_id": seal.key_id, "no_evidence_yet": res["no_evidence_yet"]}
    files["manifest.json"] = json.dumps(manifest, indent=2, sort_keys=True).encode()
    sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                   for name, data in sorted(files.items())).encode()
    files["SHA256SUMS"] = sums
    files["SHA256SUMS.sig"] = json.dumps(sign_statement(store, sums, seal), indent=2).encode()
    write_atomically(out, files, force)
    return ExportSummary(out, len(ids), (first, seal.seq), len(blobs), seal)


def statement_payload(st: dict[str, Any]) -> bytes:
    return canonical({k: v for k, v in st.items() if k != "signature"})


def sign_statement(store: EvidenceStore, sums: bytes, seal: Seal) -> dict[str, Any]:
    """Sign SHA256SUMS (which lists every other file) together with the sealed head."""
    st: dict[str, Any] = {"type": STATEMENT, "v": 1,
                          "sha256sums": hashlib.sha256(sums).hexdigest(),
                          "seal_seq": seal.seq, "seal_head_hash": seal.head_hash,
                          "key_id": seal.key_id}
    st["signature"] = keys.sign(store.key, statement_payload(st))
    return st


def check_output_path(out: Path, force: bool) -> None:
    """Refuse to replace anything but a regular file, and a regular file without `force`."""
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise ConfigError(f"{out} exists and is not a regular file: refusing to replace it")
    if out.exists() and not force:
        raise ConfigError(f"{out} exists: refusing to overwrite it (use --force)")


def write_atomically(out: Path, files: dict[str, bytes], force: bool) -> None:
    """Write the zip of `files` to `out` atomically (see write_file_atomically)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    write_file_atomically(out, buf.getvalue(), force)


def write_file_atomically(out: Path, data: bytes, force: bool) -> None:
    """Write next to `out`, fsync, then rename into place; leave nothing behind on failure."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:  # a file where a folder should be (not `out` existing)
        raise StorageError(f"cannot write {out}: {out.parent} is not a folder") from None
    except OSError as e:
        raise StorageError(f"cannot write {out}: {e.strerror or e}") from None
    try:
        with tmp.open("wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check_output_path(out, force)
        if force:
            os.replace(tmp, out)  # replaces the name only: never writes into what was there
        else:
            os.link(tmp, out)  # fails if anything appeared at `out` since the check
    except FileExistsError:
        raise ConfigError(f"{out} exists: refusing to overwrite it (use --force)") from None
    except OSError as e:
        raise StorageError(f"cannot write {out}: {e.strerror or e}") from None
    finally:
        with contextlib.suppress(OSError):  # e.g. ENOTDIR: the folder is a file
            tmp.unlink(missing_ok=True)


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
        with zipfile.ZipFile(path) as z:
            _verify_zip(z, rep, pinned, against)
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, ValueError,
            NotImplementedError, RuntimeError) as e:
        rep.problems.append(f"{path}: not a readable bundle ({_one_line(e)})")
    return rep


def _one_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:300] if lines else type(e).__name__


def _readable(info: zipfile.ZipInfo) -> str | None:
    """Why an entry cannot be read safely, or None."""
    if info.flag_bits & 0x1:
        return "encrypted"
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return f"unsupported compression method {info.compress_type}"
    return None


def _stream(z: zipfile.ZipFile, info: zipfile.ZipInfo, keep: bool
            ) -> tuple[str, bytes | None, str | None]:
    """(sha256, bytes if kept and small enough, problem) of one entry, read in blocks."""
    h = hashlib.sha256()
    buf = io.BytesIO() if keep else None
    n = 0
    try:
        with z.open(info) as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
                n += len(block)
                if buf is not None:
                    if n > MAX_CONTROL:
                        buf = None
                        return h.hexdigest(), None, f"larger than {MAX_CONTROL} bytes"
                    buf.write(block)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        return "", None, f"cannot be read ({_one_line(e)})"
    return h.hexdigest(), buf.getvalue() if buf is not None else None, None


def _lines(z: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The entry's lines, each at most MAX_LINE bytes (ValueError beyond)."""
    with z.open(info) as raw:
        f: IO[bytes] = raw
        while True:
            line = f.readline(MAX_LINE + 1)
            if not line:
                return
            if len(line) > MAX_LINE:
                raise ValueError(f"{info.filename}: a line longer than {MAX_LINE} bytes")
            yield line


def _json_object(raw: bytes | None, name: str) -> dict[str, Any]:
    if raw is None:
        raise _Bad(f"{name} is missing")
    try:
        obj = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise _Bad(f"{name}: not JSON ({_one_line(e)})") from None
    if not isinstance(obj, dict):
        raise _Bad(f"{name}: not a JSON object")
    return obj


class _Bad(Exception):
    """A bundle too malformed to check further."""


def _int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise _Bad(f"{what}: not a sequence number ({v!r})")
    if v >= 2 ** 53:  # beyond JSON's exact integers: no ledger of ours holds one
        raise _Bad(f"{what}: not a sequence number ({v}; at most 2**53 - 1)")
    return v


def _verify_zip(z: zipfile.ZipFile, rep: BundleReport, pinned: Ed25519PublicKey | None,
                against: Seal | None) -> None:
    try:
        _check(z, rep, pinned, against)
    except _Bad as e:
        rep.problems.append(str(e))
    except StorageError as e:  # e.g. a number canonical JSON cannot hold, wherever it is
        rep.problems.append(f"cannot be checked further: {e}")


def _check(z: zipfile.ZipFile, rep: BundleReport, pinned: Ed25519PublicKey | None,
           against: Seal | None) -> None:
    infos: dict[str, zipfile.ZipInfo] = {}
    for info in z.infolist():
        if info.filename in infos:
            raise _Bad(f"{info.filename}: appears more than once in the zip (which copy is "
                       "meant is ambiguous)")
        infos[info.filename] = info
    digests: dict[str, str] = {}
    control: dict[str, bytes] = {}
    for name, info in sorted(infos.items()):
        why = _readable(info)
        if why is not None:
            rep.problems.append(f"{name}: {why}")
            continue
        digest, data, why = _stream(z, info, name in CONTROL)
        if why is not None:
            rep.problems.append(f"{name}: {why}")
            continue
        digests[name] = digest
        if data is not None:
            control[name] = data
    sums_raw = control.get("SHA256SUMS")
    if sums_raw is None:
        raise _Bad("SHA256SUMS is missing or unreadable")
    listed: dict[str, str] = {}
    for i, line in enumerate(sums_raw.decode("utf-8", "replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or name in listed:
            rep.problems.append(f"SHA256SUMS:{i}: malformed or repeated line")
            continue
        listed[name] = digest
    present = set(infos) - {"SHA256SUMS", "SHA256SUMS.sig"}
    for name in sorted(set(listed) | present):
        if name not in infos:
            rep.problems.append(f"{name}: listed in SHA256SUMS but missing")
        elif name not in listed:
            rep.problems.append(f"{name}: present but not listed in SHA256SUMS")
        elif name in digests and digests[name] != listed[name]:
            rep.problems.append(f"{name}: does not match SHA256SUMS")
    manifest = _json_object(control.get("manifest.json"), "manifest.json")
    try:
        seal = Seal.from_json(_json_object(control.get("seal.json"), "seal.json"))
    except (ValueError, KeyError, TypeError) as e:
        raise _Bad(f"seal.json: not a seal ({_one_line(e)})") from None
    _int(seal.seq, "seal.json: seq")
    try:
        bundled_key = keys.load_public_pem(control.get("public_key.pem", b""))
    except StorageError as e:
        raise _Bad(f"public_key.pem: {e}") from None
    if manifest.get("format") != FORMAT:
        rep.problems.append(f"manifest.json: unknown format {manifest.get('format')!r}")
    rep.key_id = seal.key_id
    anchor = pinned if pinned is not None else bundled_key
    rotations: list[tuple[str, Seal]] = []
    for i, rline in enumerate(control.get("rotations.jsonl", b"").splitlines(), 1):
        try:
            rotations.append((f"rotations.jsonl:{i}", Seal.from_json(json.loads(rline))))
        except (ValueError, KeyError, TypeError, RecursionError):
            rep.problems.append(f"rotations.jsonl:{i}: not a seal")
    chain = key_chain(anchor, rotations)
    rep.problems.extend(f"{subject}: {detail}" for subject, detail in chain.problems)
    if pinned is not None:
        rep.key_pinned = True
        if keys.key_id(bundled_key) not in chain.pubs:
            rep.problems.append(f"public_key.pem is key {keys.key_id(bundled_key)}, not the "
                                f"pinned key {keys.key_id(pinned)} nor a key a recorded "
                                "rotation links to it")
    why = chain.why_not(seal)
    if why is not None:
        rep.problems.append(f"seal.json: {why}")
    key = chain.pubs.get(seal.key_id, anchor)
    _check_statement(control.get("SHA256SUMS.sig"), sums_raw, seal, key, rep)

    seg = manifest.get("segment")
    if not isinstance(seg, dict):
        raise _Bad("manifest.json: segment is not an object")
    rep.segment = (_int(seg.get("from"), "manifest segment.from"),
                   _int(seg.get("to"), "manifest segment.to"))
    ids = manifest.get("records")
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise _Bad("manifest.json: records is not a list of record IDs")
    if rep.segment[1] != seal.seq:
        rep.problems.append(f"manifest segment ends at #{rep.segment[1]}, but seal.json seals "
                            f"#{seal.seq}")

    vouching: list[Seal] = []
    for i, sline in enumerate(control.get("seals.jsonl", b"").splitlines(), 1):
        try:
            vs = Seal.from_json(json.loads(sline))
        except (ValueError, KeyError, TypeError, RecursionError):
            rep.problems.append(f"seals.jsonl:{i}: not a seal")
            continue
        why = chain.why_not(vs)
        if why is not None:
            rep.problems.append(f"seals.jsonl:{i}: seal of #{vs.seq}: {why}")
            continue
        vouching.append(vs)
    need = {vs.seq for vs in vouching} | {seal.seq} | ({against.seq} if against else set())
    wanted = set(ids)
    hashes: dict[int, str] = {}
    found: dict[str, dict[str, Any]] = {}
    prev: str | None = None
    expected = rep.segment[0]
    linfo = infos.get("ledger.jsonl")
    if linfo is None or _readable(linfo) is not None:
        raise _Bad("ledger.jsonl is missing or unreadable")
    for i, raw in enumerate(_lines(z, linfo), 1):
        if not raw.strip():
            continue
        try:
            r = json.loads(raw)
            if not isinstance(r, dict):
                raise ValueError("not a JSON object")
            seq = _int(r.get("seq"), "seq")
            computed = record_hash(r)
        except (ValueError, KeyError, TypeError, RecursionError, _Bad, StorageError) as e:
            rep.problems.append(f"ledger.jsonl:{i}: not a ledger record ({_one_line(e)})")
            prev = None
            expected += 1
            continue
        if seq != expected:
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} where #{expected} was due "
                                "(records missing or reordered)")
        if seq > seal.seq:
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} lies beyond the sealed head "
                                f"#{seal.seq}: no seal covers it")
        if computed != r.get("record_hash"):
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} edited: fields do not match "
                                "its record_hash")
        if prev is not None and r.get("prev_hash") != prev:
            rep.problems.append(f"ledger.jsonl:{i}: record #{seq} does not link to #{seq - 1}")
        prev = str(r.get("record_hash"))
        if seq in need:
            hashes[seq] = prev
        if r.get("id") in wanted and seq <= seal.seq:
            found[str(r["id"])] = {"seq": seq, **{c: r.get(c) for c in BLOB_COLUMNS}}
        expected = seq + 1
    if hashes.get(seal.seq) is None:
        rep.problems.append(f"seal.json seals #{seal.seq}, but the ledger segment ends at "
                            f"#{expected - 1}")
    elif hashes[seal.seq] != seal.head_hash:
        rep.problems.append(f"seal.json: head hash does not match record #{seal.seq}")
    covered: list[tuple[int, int]] = []
    for vs in vouching:
        if hashes.get(vs.seq) != vs.head_hash:
            rep.problems.append(f"seals.jsonl: the seal of #{vs.seq} does not match the ledger")
            continue
        covered.extend(vs.vouches)

    named: set[str] = set()
    for rid in ids:
        rec = found.get(rid)
        if rec is None:
            rep.problems.append(f"record {rid} is in the manifest but not in the sealed ledger "
                                "segment")
            continue
        rep.records += 1
        if not any(a <= rec["seq"] <= b for a, b in covered):
            rep.problems.append(f"record {rid} (#{rec['seq']}): no seal in the bundle vouches "
                                "for it (not written by a run holding the key)")
        for col in BLOB_COLUMNS:
            sha = rec.get(col)
            if not sha:
                continue
            name = f"blobs/{sha}"
            named.add(name)
            if name not in infos:
                rep.problems.append(f"record {rid}: {col} blob {sha} missing from the bundle")
            elif name in digests and digests[name] != sha:
                rep.problems.append(f"record {rid}: {col} blob {sha} content changed")
    for name in sorted(n for n in infos if n.startswith("blobs/") and n not in named):
        rep.problems.append(f"{name}: no record in the manifest names this blob")
    if against is not None:
        why = chain.why_not(against)
        if why is not None:
            rep.problems.append(f"kept seal: {why}")
        elif against.seq > seal.seq:
            rep.problems.append(f"kept seal is at #{against.seq}, beyond this bundle's seal "
                                f"#{seal.seq}: the ledger was cut back")
        elif against.seq in hashes:
            if hashes[against.seq] != against.head_hash:
                rep.problems.append(f"kept seal at #{against.seq} does not match the ledger: "
                                    "history was rewritten")
        else:
            rep.problems.append(f"kept seal at #{against.seq} is before this bundle's segment "
                                f"(#{rep.segment[0]}..): cannot be compared")


def _check_statement(raw: bytes | None, sums: bytes, seal: Seal, key: Ed25519PublicKey,
                     rep: BundleReport) -> None:
    """SHA256SUMS.sig must sign this SHA256SUMS and this sealed head with the key."""
    if raw is None:
        rep.problems.append("SHA256SUMS.sig is missing: the manifest and checksums are not "
                            "authenticated")
        return
    try:
        st = json.loads(raw)
        if not isinstance(st, dict) or st.get("type") != STATEMENT:
            raise ValueError("not a bundle statement")
        ok = st.get("key_id") == keys.key_id(key) and keys.verify(
            key, statement_payload(st), str(st.get("signature", "")))
    except (ValueError, TypeError, RecursionError) as e:
        rep.problems.append(f"SHA256SUMS.sig: unreadable ({_one_line(e)})")
        return
    if not ok:
        rep.problems.append(f"SHA256SUMS.sig: signature does not verify with key "
                            f"{keys.key_id(key)}")
    elif st.get("sha256sums") != hashlib.sha256(sums).hexdigest():
        rep.problems.append("SHA256SUMS does not match its signature: the manifest or "
                            "checksums were changed after export")
    elif st.get("seal_seq") != seal.seq or st.get("seal_head_hash") != seal.head_hash:
        rep.problems.append("SHA256SUMS.sig signs a different sealed head than seal.json")
