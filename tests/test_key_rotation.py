"""Issue 8 item 7: the signing key is checked before anything is collected, read commands
never create one, a key others can read is refused, and a store sealed by one key accepts
another only through a rotation recorded in the ledger that verify and verify-bundle follow."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select

from collector.cli import cli
from collector.config import load
from fieldwork.bundle import verify_bundle
from storage import keys
from storage.index import records, seals
from storage.ledger import Seal, lock_head, make_seal
from storage.rotation import ROTATE, rotation_note
from storage.store import EvidenceStore, seal_file_name
from storage.verify import verify


def _cli(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args))
    if r.exception and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _records(cfg: Path) -> int:
    st = EvidenceStore.open(load(cfg))
    with st.engine.connect() as c:
        n = int(c.execute(select(func.count()).select_from(records)).scalar_one())
    st.close()
    return n


@pytest.fixture
def cfg(config_file: Callable[..., Path]) -> Path:
    """A store with one sealed collection and its key's public half in old.pem."""
    path = config_file()
    code, out, _ = _cli("-c", str(path), "key", "create")
    assert code == 0
    (path.parent / "old.pem").write_text(out)
    assert _cli("-c", str(path), "collect")[0] == 0
    return path


def _pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_key_readable_by_group_or_others_is_refused(cfg: Path, mode: int) -> None:
    """`key create` writes 0600; a key file group or others can read or write stops collect
    and verify with one line naming the file and its mode (exit 2), nothing collected."""
    key = cfg.parent / "signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    before = _records(cfg)
    key.chmod(mode)
    for args in (["collect"], ["verify"]):
        code, _out, err = _cli("-c", str(cfg), *args)
        assert code == 2, (args, err)
        assert err == (f"evidence: error: {key}: signing key is accessible by group or others "
                       f"(mode {mode:04o}): refusing to use it; `chmod 600 {key}`, and rotate "
                       "the key if others may have read it\n")
    assert _records(cfg) == before


@pytest.mark.parametrize("what", ["garbage", "a directory", "an RSA key"])
def test_bad_key_stops_collect_before_anything_is_collected(cfg: Path, what: str) -> None:
    """A garbage, unreadable or non-Ed25519 key file: exit 2, one line, nothing collected."""
    key = cfg.parent / "signing.key"
    before = _records(cfg)
    key.unlink()
    if what == "garbage":
        key.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64 at all\n")
        key.chmod(0o600)
        message = "not a PEM Ed25519 private key"
    elif what == "a directory":
        key.mkdir(mode=0o700)
        message = "signing key cannot be read (Is a directory)"
    else:
        from cryptography.hazmat.primitives.asymmetric import rsa

        rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
        key.write_bytes(rsa_key.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        key.chmod(0o600)
        message = "key is not Ed25519"
    code, out, err = _cli("-c", str(cfg), "collect")
    assert code == 2 and err.count("\n") == 1 and message in err and str(key) in err, err
    assert "Traceback" not in out + err
    assert _records(cfg) == before


def test_read_commands_never_create_a_key(cfg: Path) -> None:
    """With the key file gone, verify, key export and query create no key."""
    key = cfg.parent / "signing.key"
    key.unlink()
    for args in (["verify"], ["key", "export"], ["query", "--control", "CC6.1"],
                 ["seal", "export"], ["runs"]):
        _cli("-c", str(cfg), *args)
        assert not key.exists(), args
    code, _, err = _cli("-c", str(cfg), "collect")
    assert code == 2 and "is missing, but this store is sealed by key" in err
    assert not key.exists()


def test_another_key_is_refused_without_a_recorded_rotation(cfg: Path) -> None:
    """A store sealed by key A refuses key B (collect exit 2, nothing collected) and verify
    with B's public key names every seal as signed by an unknown key."""
    key = cfg.parent / "signing.key"
    old_id = keys.key_id(keys.load_private(key).public_key())
    other = Ed25519PrivateKey.generate()
    key.write_bytes(_pem(other))
    before = _records(cfg)
    code, _, err = _cli("-c", str(cfg), "collect")
    new_id = keys.key_id(other.public_key())
    assert code == 2 and f"is key {new_id}, but this store is sealed by key {old_id} and no " \
        f"rotation to key {new_id} is recorded" in err
    assert _records(cfg) == before
    st = EvidenceStore.open(load(cfg))
    rep = verify(st, public=other.public_key())
    assert rep.problems and all(p.kind == "seal" and f"signed by unknown key {old_id}" in p.detail
                                for p in rep.problems if p.kind == "seal")


def test_rotation_is_followed_both_ways_and_retires_the_old_key(cfg: Path) -> None:
    """After `key rotate`, runs seal with the new key; verify trusts the chain whether it
    starts from the old public key or the new one; the retired key is refused."""
    key = cfg.parent / "signing.key"
    old_id = keys.key_id(keys.load_private(key).public_key())
    code, new_pem, err = _cli("-c", str(cfg), "key", "rotate", "--reason", "yearly")
    assert code == 0, err
    new_id = keys.key_id(keys.load_public_pem(new_pem))
    retired = cfg.parent / f"signing.key.{old_id}.retired"
    assert retired.exists() and keys.key_id(keys.load_private(key).public_key()) == new_id
    assert key.stat().st_mode & 0o777 == 0o600
    assert _cli("-c", str(cfg), "collect")[0] == 0
    st = EvidenceStore.open(load(cfg))
    with st.engine.connect() as c:
        rows = c.execute(select(seals.c.key_id, seals.c.purpose).order_by(seals.c.id)).all()
    assert (old_id, ROTATE) in rows and rows[-1] == (new_id, "run")
    assert verify(st, write_checkpoint=False).ok
    old_pub = keys.load_public_pem((cfg.parent / "old.pem").read_bytes())
    rep = verify(st, public=old_pub, write_checkpoint=False)
    assert rep.ok, rep.problems
    code, out, _ = _cli("-c", str(cfg), "verify", "--public-key", str(cfg.parent / "old.pem"))
    assert code == 0, out
    # the retired key put back is refused, naming the rotation
    key.rename(cfg.parent / "new.key")
    retired.rename(key)
    code, _, err = _cli("-c", str(cfg), "collect")
    assert code == 2 and f"is key {old_id}, which was rotated out (to key {new_id})" in err


def _insert_seal(st: EvidenceStore, seal: Seal) -> None:
    """Write a seal to the index and the seal store, as an insider with write access can."""
    with st.engine.begin() as c:
        c.execute(insert(seals).values(seq=seal.seq, head_hash=seal.head_hash,
                                       sealed_at=seal.sealed_at, run_id=seal.run_id,
                                       key_id=seal.key_id, signature=seal.signature, v=seal.v,
                                       covers=[list(r) for r in seal.covers],
                                       purpose=seal.purpose, note=seal.note))
    st.blobs.put_seal(seal_file_name(seal), json.dumps(seal.to_json()).encode())


def _signed(st: EvidenceStore, key: Ed25519PrivateKey, purpose: str,
            note: str | None = None, covers: tuple[int, ...] = ()) -> Seal:
    """A seal of the current head signed by `key` (not stored)."""
    with st.engine.begin() as c:
        s = make_seal(c, key, datetime.now(UTC), None, covers, purpose, note)
        c.rollback()
    return s


def test_forged_rotation_is_named(cfg: Path) -> None:
    """An insider without the key records a rotation to a key of their own (signed by that
    key, or naming the real key as the old one): verify names the forged rotation and every
    seal made with the insider's key."""
    st = EvidenceStore.open(load(cfg))
    real = st.key
    mine, mine2 = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    # 1: a self-consistent rotation between two keys of the insider's
    with st.engine.connect() as c:
        seq, head = lock_head(c)
    forged = _signed(st, mine, ROTATE, rotation_note(mine, mine2, seq, head, "forged"))
    _insert_seal(st, forged)
    # 2: a rotation claiming the real key as the old one, signed by the insider
    note = json.loads(rotation_note(mine, mine2, seq, head, None))
    note["old_key_id"] = keys.key_id(real.public_key())
    note["old_public_key"] = keys.public_pem(real.public_key())
    claim = _signed(st, mine, ROTATE, json.dumps(note))
    claim = Seal(claim.seq, claim.head_hash, claim.sealed_at, None,
                 keys.key_id(real.public_key()), claim.signature, claim.covers, ROTATE,
                 claim.note)
    _insert_seal(st, claim)
    late = _signed(st, mine2, "run")
    _insert_seal(st, late)
    rep = verify(st, write_checkpoint=False)
    details = [p.detail for p in rep.problems]
    assert any("forged key rotation: its signature does not verify with the old key" in d
               for d in details), details
    assert any(f"signed by unknown key {keys.key_id(mine2.public_key())}" in d for d in details)
    assert any(f"signed by unknown key {keys.key_id(mine.public_key())}" in d for d in details)
    # the forged rotation neither hands the store to the insider's key nor blocks the real
    # one: the next run seals with the real key, and verify still names the forgery
    code, _, err = _cli("-c", str(cfg), "collect")
    assert code == 0, err
    with st.engine.connect() as c:
        newest = c.execute(select(seals.c.key_id).order_by(seals.c.id.desc())).first()
    assert newest is not None and newest.key_id == keys.key_id(real.public_key())
    assert any("forged key rotation" in p.detail for p in verify(st).problems)


def test_missing_rotation_is_named(cfg: Path) -> None:
    """Removing the rotation seal (index and file) leaves the new key's seals unlinked to
    the old key: verify with the old public key names each of them."""
    assert _cli("-c", str(cfg), "key", "rotate")[0] == 0
    assert _cli("-c", str(cfg), "collect")[0] == 0
    st = EvidenceStore.open(load(cfg))
    with st.engine.begin() as c:
        row = c.execute(select(seals).where(seals.c.purpose == ROTATE)).one()
        c.execute(delete(seals).where(seals.c.id == row.id))
    (st.blobs.seal_dir / seal_file_name(Seal.from_row(row))).unlink()  # type: ignore[attr-defined]
    new_id = keys.key_id(st.key.public_key())
    old_pub = keys.load_public_pem((cfg.parent / "old.pem").read_bytes())
    rep = verify(st, public=old_pub, write_checkpoint=False)
    assert any(p.kind == "seal" and f"signed by unknown key {new_id}: no recorded key rotation "
               "links it" in p.detail for p in rep.problems), rep.problems
    rep = verify(st, write_checkpoint=False)  # from the new key, the old seals are unlinked
    assert any(f"signed by unknown key {keys.key_id(old_pub)}" in p.detail
               for p in rep.problems)


def test_retired_key_used_after_the_rotation_is_named(cfg: Path) -> None:
    """A seal made with the old key after it was rotated out (a stolen old key) is named."""
    old = keys.load_private(cfg.parent / "signing.key")
    assert _cli("-c", str(cfg), "key", "rotate")[0] == 0
    assert _cli("-c", str(cfg), "collect")[0] == 0
    st = EvidenceStore.open(load(cfg))
    stolen = _signed(st, old, "run")
    _insert_seal(st, stolen)
    rep = verify(st, write_checkpoint=False)
    assert any(f"signed by key {keys.key_id(old.public_key())} at #{stolen.seq}, after it was "
               "rotated out at #" in p.detail for p in rep.problems), rep.problems


def test_a_run_that_loaded_the_old_key_seals_with_the_new_one(cfg: Path) -> None:
    """A collector that loaded its key before a rotation seals with the key file's new key
    (never with the retired one), and verify stays clean."""
    a = EvidenceStore.open(load(cfg))
    old_id = keys.key_id(a.key.public_key())
    assert _cli("-c", str(cfg), "key", "rotate")[0] == 0
    s = a.seal(None)
    assert s.key_id != old_id
    assert verify(a, write_checkpoint=False).ok


def test_bundle_after_a_rotation_verifies_against_the_old_pinned_key(cfg: Path) -> None:
    """A bundle exported after a rotation verifies with the old key pinned (rotations.jsonl
    links it to the new one); emptying rotations.jsonl breaks it, naming why."""
    assert _cli("-c", str(cfg), "key", "rotate")[0] == 0
    assert _cli("-c", str(cfg), "collect")[0] == 0
    out = cfg.parent / "b.zip"
    code, _, err = _cli("-c", str(cfg), "export", "--control", "CC6.1", "-o", str(out))
    assert code == 0, err
    old_pem = cfg.parent / "old.pem"
    code, stdout, _ = _cli("verify-bundle", str(out), "--public-key", str(old_pem))
    assert code == 0, stdout
    old_pub = keys.load_public_pem(old_pem.read_bytes())
    with zipfile.ZipFile(out) as z:
        files = {n: z.read(n) for n in z.namelist()}
    assert files["rotations.jsonl"].count(b"\n") == 1
    files["rotations.jsonl"] = b""
    cut = cfg.parent / "cut.zip"
    with zipfile.ZipFile(cut, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    rep = verify_bundle(cut, pinned=old_pub)
    assert not rep.ok
    assert any("rotations.jsonl: does not match SHA256SUMS" in p for p in rep.problems)
    assert any("not the pinned key" in p and "nor a key a recorded rotation links to it" in p
               for p in rep.problems), rep.problems
    assert any(p.startswith("seal.json: signed by unknown key") for p in rep.problems)
    other = Ed25519PrivateKey.generate().public_key()
    rep = verify_bundle(out, pinned=other)
    assert any("not the pinned key" in p for p in rep.problems)


@pytest.mark.parametrize(("mode", "ok"), [(0o440, True), (0o444, False), (0o460, False)])
def test_secret_volume_layout_is_the_one_exception(mode: int, ok: bool) -> None:
    """A root-owned key only the agent's own group can read (a Kubernetes secret volume with
    `defaultMode: 0440` and `fsGroup`) is accepted when the agent is not root; readable by
    others, or group-writable, it is refused."""
    import os
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("needs root to lay out a root-owned key for another user")
    nobody = 65534
    d = Path(tempfile.mkdtemp(prefix="keys8-vol-"))
    try:
        d.chmod(0o755)
        key = d / "signing.key"
        key.write_bytes(_pem(Ed25519PrivateKey.generate()))
        os.chown(key, 0, nobody)
        key.chmod(mode)
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # the agent, as a user that is not root, in the key's group only
            try:
                os.setgroups([])
                os.setgid(nobody)
                os.setuid(nobody)
                keys.load_private(key)
                msg, rc = b"", 0
            except Exception as e:
                msg, rc = str(e).encode(), 2
            os.write(wfd, msg)
            os._exit(rc)
        os.close(wfd)
        _, status = os.waitpid(pid, 0)
        out = os.read(rfd, 4096).decode()
        os.close(rfd)
        assert (os.waitstatus_to_exitcode(status) == 0) == ok, out
        if not ok:
            assert f"(mode {mode:04o}): refusing to use it" in out
    finally:
        import shutil

        shutil.rmtree(d, ignore_errors=True)
