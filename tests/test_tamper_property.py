"""Random sequences of an insider's tampering, on a store and on a bundle: each one is caught
and named by verify / verify-bundle (Hypothesis stateful testing)."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from sqlalchemy import delete, insert, select, update

from collector.config import load
from fieldwork.bundle import export_bundle, verify_bundle
from storage.blobs import FileBlobStore
from storage.canonical import canonical
from storage.index import ledger_head, records, seals
from storage.ledger import record_hash
from storage.queries import parse_time
from storage.store import EvidenceStore, NewRecord
from storage.verify import verify
from tests.conftest import write_config

RUNS, PER_RUN = 3, 3


def _new(run: str, i: int) -> NewRecord:
    t = datetime(2026, 3, 1, tzinfo=UTC) + timedelta(hours=i)
    return NewRecord(run_id=run, connector="synthetic", instance="one", snapshot=f"s{i % 4}",
                     kind="posture", controls=["CC6.1"], max_age_seconds=10**8,
                     collected_started_at=t, collected_finished_at=t, status="complete",
                     ipe={"calls": [], "n": i}, content={"i": i}, has_content=True,
                     effective_at=t)


def _build(root: Path) -> EvidenceStore:
    store = EvidenceStore.open(load(write_config(root)))
    for r in range(RUNS):
        rows = store.append([_new(f"run{r}", r * PER_RUN + k) for k in range(PER_RUN)])
        store.seal(f"run{r}", [int(x["seq"]) for x in rows])
    return store


class StoreTampering(RuleBasedStateMachine):
    """Each rule is one insider move; `expected` holds what verify must then report."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="tamper-"))
        self.expected: list[tuple[str, str]] = []  # (problem kind, text its line must hold)
        self.used: set[Any] = set()

    @initialize()
    def build(self) -> None:
        self.store = _build(self.dir)
        self.n = RUNS * PER_RUN
        assert verify(self.store).ok

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def _fresh(self, key: Any) -> bool:
        if key in self.used:
            return False
        self.used.add(key)
        return True

    def _row(self, seq: int) -> dict[str, Any]:
        with self.store.engine.connect() as c:
            return dict(c.execute(select(records).where(records.c.seq == seq)).mappings().one())

    @rule(seq=st.integers(1, RUNS * PER_RUN - 1), field=st.sampled_from(
        ["status", "principal", "controls", "collected_finished_at"]))
    def edit_record(self, seq: int, field: str) -> None:
        if not self._fresh(seq):
            return
        value: Any = {"status": "failed", "principal": "someone-else",
                      "controls": ["CC9.9"],
                      "collected_finished_at": datetime(2020, 1, 1, tzinfo=UTC)}[field]
        with self.store.engine.begin() as c:
            c.execute(update(records).where(records.c.seq == seq).values({field: value}))
        self.expected.append(("record", f"#{seq} "))

    @rule(seq=st.integers(2, RUNS * PER_RUN - 1))
    def delete_record(self, seq: int) -> None:
        if not self._fresh(seq):
            return
        with self.store.engine.begin() as c:
            c.execute(delete(records).where(records.c.seq == seq))
        self.expected.append(("chain", f"#{seq}"))

    @rule(seq=st.integers(1, RUNS * PER_RUN - 1), delete_it=st.booleans())
    def change_blob(self, seq: int, delete_it: bool) -> None:
        if not self._fresh(seq):
            return
        sha = self._row(seq)["content_sha256"]
        assert isinstance(self.store.blobs, FileBlobStore)
        path = self.store.blobs.path(sha)
        path.chmod(0o644)
        if delete_it:
            path.unlink()
            self.expected.append(("record", f"content_sha256 {sha}: blob missing"))
        else:
            path.write_bytes(path.read_bytes().replace(b"}", b",\"x\":1}"))
            self.expected.append(("blob", sha))

    @precondition(lambda self: "append" not in self.used)
    @rule(beyond=st.booleans())
    def append_without_key(self, beyond: bool) -> None:
        """Chain a record after the head (moving it), or leave a row beyond the head."""
        self.used.add("append")
        with self.store.engine.begin() as c:
            head = c.execute(select(ledger_head)).one()
            top = dict(c.execute(select(records).order_by(records.c.seq.desc()).limit(1))
                       .mappings().one())
            seq = max(int(head.seq), int(top["seq"])) + 1
            row = dict(top, seq=seq, id=f"forged{seq:014d}", prev_hash=head.hash,
                       collected_finished_at=datetime.now(UTC) + timedelta(days=400))
            row["record_hash"] = record_hash(row)
            c.execute(insert(records).values(**row))
            if not beyond:
                c.execute(update(ledger_head).values(seq=seq, hash=row["record_hash"]))
        self.expected.append(("chain", "outside the chain") if beyond
                             else ("unsealed", f"#{seq}"))

    @rule(which=st.integers(0, RUNS - 1), what=st.sampled_from(["file", "index", "covers"]))
    def tamper_seal(self, which: int, what: str) -> None:
        if not self._fresh(("seal", which)):
            return
        seq = (which + 1) * PER_RUN
        assert isinstance(self.store.blobs, FileBlobStore)
        if what == "file":
            for f in self.store.blobs.seal_dir.glob(f"{seq:012d}-*.json"):
                f.chmod(0o644)
                f.unlink()
            self.expected.append(("seal", "no matching file in the seal store"))
        elif what == "index":
            with self.store.engine.begin() as c:
                c.execute(delete(seals).where(seals.c.seq == seq))
            self.expected.append(("seal", "has no matching seal in the index"))
        else:
            with self.store.engine.begin() as c:
                c.execute(update(seals).where(seals.c.seq == seq).values(covers=[[seq, seq]]))
            self.expected.append(("seal", "signature does not verify"))

    @invariant()
    def every_move_is_caught_and_named(self) -> None:
        if not hasattr(self, "store"):
            return
        rep = verify(self.store)
        assert rep.ok == (not self.expected)
        lines = [(p.kind, str(p)) for p in rep.problems]
        for kind, text in self.expected:
            assert any(k == kind and _names(line, text) for k, line in lines), \
                (kind, text, lines)


def _names(line: str, text: str) -> bool:
    """`text` is in `line`, or `text` is "#N" and the line names a range #a..#b holding N
    (adjacent deleted records are reported as one range)."""
    if text in line:
        return True
    m = re.fullmatch(r"#(\d+)", text)
    return m is not None and any(int(a) <= int(m.group(1)) <= int(b)
                                 for a, b in re.findall(r"#(\d+)\.\.#(\d+)", line))


StoreTampering.TestCase.settings = settings(
    max_examples=12, stateful_step_count=5, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestStoreTampering = StoreTampering.TestCase


# bundles ------------------------------------------------------------------------------------
def _bundle_ops() -> dict[str, Any]:
    def ledger_edit(f: dict[str, bytes]) -> str:
        lines = f["ledger.jsonl"].splitlines()
        r = json.loads(lines[0])
        r["status"] = "failed"
        lines[0] = canonical(r)
        f["ledger.jsonl"] = b"\n".join(lines) + b"\n"
        return "edited"

    def ledger_drop(f: dict[str, bytes]) -> str:
        lines = f["ledger.jsonl"].splitlines()
        f["ledger.jsonl"] = b"\n".join(lines[:1] + lines[2:]) + b"\n"
        return "ledger.jsonl"

    def ledger_extend(f: dict[str, bytes]) -> str:
        last = json.loads(f["ledger.jsonl"].splitlines()[-1])
        r = dict(last, seq=last["seq"] + 1, id="forgedbundle00000000",
                 prev_hash=last["record_hash"])
        r["record_hash"] = record_hash(r)
        f["ledger.jsonl"] += canonical(r) + b"\n"
        return "beyond the sealed head"

    def manifest_drop(f: dict[str, bytes]) -> str:
        m = json.loads(f["manifest.json"])
        m["records"] = m["records"][1:]
        f["manifest.json"] = json.dumps(m).encode()
        return "SHA256SUMS does not match its signature"

    def manifest_relabel(f: dict[str, bytes]) -> str:
        m = json.loads(f["manifest.json"])
        m["query"] = {"controls": ["CC1.1"]}
        f["manifest.json"] = json.dumps(m).encode()
        return "SHA256SUMS does not match its signature"

    def named_blob(f: dict[str, bytes]) -> str:
        """A blob that a record still in the manifest names (else any blob)."""
        ids = json.loads(f["manifest.json"]).get("records", [])
        for line in f["ledger.jsonl"].splitlines():
            r = json.loads(line)
            if r.get("id") in ids and f"blobs/{r['ipe_sha256']}" in f:
                return f"blobs/{r['ipe_sha256']}"
        return sorted(n for n in f if n.startswith("blobs/"))[0]

    def blob_edit(f: dict[str, bytes]) -> str:
        name = named_blob(f)
        f[name] = f[name] + b" "
        return "content changed"

    def blob_drop(f: dict[str, bytes]) -> str:
        del f[named_blob(f)]
        return "missing"

    def seal_drop(f: dict[str, bytes]) -> str:
        f["seals.jsonl"] = b""
        return "no seal in the bundle vouches"

    def sig_drop(f: dict[str, bytes]) -> str:
        del f["SHA256SUMS.sig"]
        return "SHA256SUMS.sig is missing"

    return {fn.__name__: fn for fn in (ledger_edit, ledger_drop, ledger_extend, manifest_drop,
                                       manifest_relabel, blob_edit, blob_drop, seal_drop,
                                       sig_drop)}


BUNDLE_OPS = _bundle_ops()


class BundleTampering(RuleBasedStateMachine):
    """Apply tampering moves one after another to an exported bundle (SHA256SUMS fixed up as
    a forger would, or not); verify-bundle with the pinned key names every one."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="tamperb-"))
        self.expected: list[tuple[str, list[str], str]] = []
        self.n = 0

    @initialize()
    def build(self) -> None:
        self.store = _build(self.dir)
        out = self.dir / "b.zip"
        export_bundle(self.store, out, ["CC6.1"], parse_time("2026-03-02"), None, {"q": 1})
        with zipfile.ZipFile(out) as z:
            self.files = {n: z.read(n) for n in z.namelist()}
        self.key = self.store.public_key()

    def teardown(self) -> None:
        self.store.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    @rule(op=st.sampled_from(sorted(BUNDLE_OPS)), fix_sums=st.booleans())
    def tamper(self, op: str, fix_sums: bool) -> None:
        if op in {e[0] for e in self.expected}:
            return
        before = dict(self.files)
        text = BUNDLE_OPS[op](self.files)
        changed = sorted(n for n in set(before) | set(self.files)
                         if before.get(n) != self.files.get(n))
        if fix_sums:
            body = {n: d for n, d in self.files.items()
                    if n not in ("SHA256SUMS", "SHA256SUMS.sig")}
            self.files["SHA256SUMS"] = "".join(
                f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in sorted(body.items())
            ).encode()
        self.expected.append((op, changed, text))

    @invariant()
    def every_move_is_caught_and_named(self) -> None:
        if not hasattr(self, "files"):
            return
        self.n += 1
        path = self.dir / f"t{self.n}.zip"
        with zipfile.ZipFile(path, "w") as z:
            for n, d in self.files.items():
                z.writestr(n, d)
        rep = verify_bundle(path, pinned=self.key)
        assert rep.ok == (not self.expected), rep.problems
        # each move is named right after it is made (a later move may remove what an
        # earlier one touched, e.g. the manifest entry of a dropped blob)
        for op, changed, text in self.expected[-1:]:
            # named by what it did, or by the file it changed failing its checksum
            # (once the signature is gone, no change to what it signed can be named more
            # precisely than that: nothing in the bundle is authenticated any more)
            unsigned = text == "SHA256SUMS does not match its signature" and any(
                p.startswith("SHA256SUMS.sig is missing") for p in rep.problems)
            assert unsigned or any(text in p for p in rep.problems) or any(
                p.startswith(f"{n}:") for n in changed for p in rep.problems), \
                (op, text, rep.problems)


BundleTampering.TestCase.settings = settings(
    max_examples=15, stateful_step_count=4, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestBundleTampering = BundleTampering.TestCase
