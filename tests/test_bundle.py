"""Export bundles verify offline, and tampering with one is caught."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from collector.cli import cli
from collector.config import load
from collector.runner import Collector, Selection
from fieldwork.bundle import verify_bundle
from storage.keys import load_public_pem, public_pem
from storage.ledger import Seal
from storage.queries import parse_time
from storage.store import EvidenceStore


@pytest.fixture
def bundle(config_file: Callable[..., Path], tmp_path: Path) -> tuple[Path, EvidenceStore]:
    cfg = load(config_file())
    st = EvidenceStore.open(cfg)
    for _ in range(3):
        Collector(cfg, st).run(Selection())
    from fieldwork.bundle import export_bundle

    out = tmp_path / "out" / "cc6.zip"
    s = export_bundle(st, out, ["CC6.1"], parse_time("now"), None, {"controls": ["CC6.1"]})
    assert s.records == 1 and s.segment[1] == s.seal.seq
    return out, st


def _rewrite(src: Path, dst: Path, change: Callable[[dict[str, bytes]], None]) -> None:
    """Copy a bundle, apply `change`, and recompute SHA256SUMS as a forger would."""
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    change(files)
    files.pop("SHA256SUMS")
    files["SHA256SUMS"] = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n"
                                  for n, d in sorted(files.items())).encode()
    with zipfile.ZipFile(dst, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)


def test_bundle_verifies_offline(bundle: tuple[Path, EvidenceStore]) -> None:
    """An untouched bundle verifies with the pinned key and nothing else."""
    path, st = bundle
    pinned = load_public_pem(public_pem(st.public_key()))
    rep = verify_bundle(path, pinned=pinned)
    assert rep.ok, rep.problems
    assert rep.records == 1 and rep.key_pinned
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"manifest.json", "ledger.jsonl", "seal.json", "public_key.pem",
            "SHA256SUMS"} <= names


def test_changed_blob_is_caught(bundle: tuple[Path, EvidenceStore], tmp_path: Path) -> None:
    """Editing evidence content (even with fixed-up SHA256SUMS) is caught by its hash."""
    path, st = bundle

    def change(f: dict[str, bytes]) -> None:
        manifest = json.loads(f["manifest.json"])
        rid = manifest["records"][0]
        rec = next(json.loads(x) for x in f["ledger.jsonl"].splitlines()
                   if json.loads(x)["id"] == rid)
        name = f"blobs/{rec['content_sha256']}"
        f[name] = f[name].replace(b'"mfa":false', b'"mfa":true')

    forged = tmp_path / "forged.zip"
    _rewrite(path, forged, change)
    rep = verify_bundle(forged, pinned=st.public_key())
    assert any("content_sha256" in p and "content changed" in p for p in rep.problems)


def test_edited_ledger_line_is_caught(bundle: tuple[Path, EvidenceStore],
                                      tmp_path: Path) -> None:
    """Editing a record in the ledger segment is caught by its record hash."""
    path, st = bundle

    def change(f: dict[str, bytes]) -> None:
        lines = f["ledger.jsonl"].splitlines()
        r = json.loads(lines[0])
        r["status"] = "complete" if r["status"] != "complete" else "partial"
        lines[0] = json.dumps(r).encode()
        f["ledger.jsonl"] = b"\n".join(lines) + b"\n"

    forged = tmp_path / "forged.zip"
    _rewrite(path, forged, change)
    rep = verify_bundle(forged, pinned=st.public_key())
    assert any("edited" in p for p in rep.problems)


def test_resigned_bundle_fails_against_pinned_key(bundle: tuple[Path, EvidenceStore],
                                                  tmp_path: Path) -> None:
    """A forger who re-signs with their own key passes only if the auditor trusts that key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from storage import keys

    path, st = bundle
    evil = Ed25519PrivateKey.generate()

    def change(f: dict[str, bytes]) -> None:
        s = Seal.from_json(json.loads(f["seal.json"]))
        unsigned = Seal(s.seq, s.head_hash, s.sealed_at, s.run_id,
                        keys.key_id(evil.public_key()), "")
        forged = Seal(s.seq, s.head_hash, s.sealed_at, s.run_id, unsigned.key_id,
                      keys.sign(evil, unsigned.payload()))
        f["seal.json"] = json.dumps(forged.to_json()).encode()
        f["public_key.pem"] = keys.public_pem(evil.public_key()).encode()

    forged = tmp_path / "forged.zip"
    _rewrite(path, forged, change)
    rep = verify_bundle(forged, pinned=st.public_key())
    assert any("not the pinned key" in p for p in rep.problems)


def test_unlisted_or_modified_file_is_caught(bundle: tuple[Path, EvidenceStore],
                                             tmp_path: Path) -> None:
    """A file changed without fixing SHA256SUMS, or added to the zip, is named."""
    path, st = bundle
    with zipfile.ZipFile(path) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files["manifest.json"] += b" "
    files["extra.txt"] = b"hello"
    forged = tmp_path / "f.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    rep = verify_bundle(forged, pinned=st.public_key())
    assert "manifest.json: does not match SHA256SUMS" in rep.problems
    assert "extra.txt: present but not listed in SHA256SUMS" in rep.problems


def test_cli_export_and_verify_bundle_without_config(
        config_file: Callable[..., Path], tmp_path: Path) -> None:
    """`evidence export` writes a bundle; `evidence verify-bundle` checks it with no config."""
    cfg = str(config_file('[controls]\n"ACME-1" = ["CC6.1", "CC7.2"]\n'))
    r = CliRunner().invoke(cli, ["-c", cfg, "collect"])
    assert r.exit_code == 0
    out = tmp_path / "b.zip"
    r = CliRunner().invoke(cli, ["-c", cfg, "export", "--control", "ACME-1", "-o", str(out)])
    assert r.exit_code == 0, r.stderr
    assert "2 records" in r.stdout
    key = tmp_path / "key.pem"
    key.write_text(CliRunner().invoke(cli, ["-c", cfg, "key", "export"]).stdout)
    r = CliRunner().invoke(cli, ["verify-bundle", str(out), "--public-key", str(key), "--json"],
                           env={"EVIDENCE_CONFIG": ""})
    assert r.exit_code == 0, r.stdout
    assert json.loads(r.stdout)["ok"] is True
