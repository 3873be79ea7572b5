"""The Ed25519 signing key: made by `evidence key create` (mode 0600), public half exportable."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from connectors.errors import ConfigError, StorageError


def key_id(public: Ed25519PublicKey) -> str:
    """A short stable ID of a public key: the first 16 hex digits of SHA-256 of its raw bytes."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_private(path: Path) -> Ed25519PrivateKey:
    """Load the PEM Ed25519 private key at `path`; ConfigError (one line naming the file) when
    it is missing, unreadable, not such a key, or readable or writable by group or others."""
    try:
        st = os.stat(path)
        if st.st_mode & 0o077 and not _platform_secret(st):
            raise ConfigError(f"{path}: signing key is accessible by group or others (mode "
                              f"{stat.S_IMODE(st.st_mode):04o}): refusing to use it; "
                              f"`chmod 600 {path}`, and rotate the key if others may have "
                              "read it")
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(f"{path}: signing key cannot be read ({e.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{path}: not a PEM Ed25519 private key ({_first(e)})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path}: key is not Ed25519")
    return key


def _platform_secret(st: os.stat_result) -> bool:
    """A secret volume's layout (Kubernetes `defaultMode: 0440` with `fsGroup`): owned by
    root, readable by our own group only, writable by nobody else, and we are not root."""
    mode = stat.S_IMODE(st.st_mode)
    return (st.st_uid == 0 and os.geteuid() != 0 and not mode & 0o037
            and st.st_gid in {os.getegid(), *os.getgroups()})


def _first(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:200] if lines else type(e).__name__


def load_or_create(path: Path) -> Ed25519PrivateKey:
    """Load the PEM private key at `path`, creating it (mode 0600) if it does not exist."""
    if path.exists() or path.is_symlink():
        return load_private(path)
    return create(path) or load_private(path)


def create(path: Path) -> Ed25519PrivateKey | None:
    """Write a new key to `path` (mode 0600, never replacing a file); None if one appeared
    there meanwhile."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
        f.flush()
        os.fsync(f.fileno())
    try:
        os.link(tmp, path)  # never replace a key another process created meanwhile
    except FileExistsError:
        return None
    finally:
        os.unlink(tmp)
    return key


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_pem(text: str | bytes) -> Ed25519PublicKey:
    data = text.encode() if isinstance(text, str) else text
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise StorageError(f"not a PEM Ed25519 public key ({_first(e)})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise StorageError("not a PEM Ed25519 public key (a key of another type)")
    return key


def sign(key: Ed25519PrivateKey, message: bytes) -> str:
    return base64.b64encode(key.sign(message)).decode()


def verify(public: Ed25519PublicKey, message: bytes, signature: str) -> bool:
    try:
        public.verify(base64.b64decode(signature, validate=True), message)
    except (InvalidSignature, ValueError):
        return False
    return True
