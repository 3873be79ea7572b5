"""Small real file systems for tests: a tmpfs that is read-only or full (needs root; tests that
use one skip when mounting is not permitted, and say so)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _run(*cmd: str) -> bool:
    return subprocess.run(cmd, capture_output=True).returncode == 0


@contextmanager
def tmpfs(where: Path, *, size: str = "1m", seed: Path | None = None, read_only: bool = False,
          fill: bool = False) -> Iterator[Path]:
    """Mount a tmpfs of `size` at `where` (a copy of `seed` inside), then make it read-only
    or fill it to the last byte; unmounted afterwards."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    if not _run("mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)):
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        if seed is not None:
            shutil.copytree(seed, where, dirs_exist_ok=True)
        if fill:
            fd = os.open(where / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for block in (b"\0" * 4096, b"\0"):
                    try:
                        while os.write(fd, block):
                            pass
                    except OSError:
                        pass
            finally:
                os.close(fd)
        if read_only:
            assert _run("mount", "-o", "remount,ro", str(where))
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
