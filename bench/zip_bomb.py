"""Peak RSS of `evidence verify-bundle` on zip bombs: a ~1 MB zip holding one 1 GiB entry of
zeros (deflate's best ratio), under each name the verifier treats differently (issue 8).

    .venv/bin/python bench/zip_bomb.py [--gib 1] [--dir /tmp/zipbomb]

For each entry name, the bomb is written into an otherwise valid bundle exported from a small
store (so the verifier gets past the zip directory and reads the entry as it would a real
one): `blobs/<sha>` (only hashed, streaming), `manifest.json` and `seals.jsonl` (control
files, held in memory up to a limit), `ledger.jsonl` (read line by line, each line limited).
Each `verify-bundle --json` runs as a subprocess; peak RSS comes from wait4 (bench/memory.py).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from memory import EXE, run_measured
from synth import machine

NAMES = ("blobs/" + "0" * 64, "manifest.json", "seals.jsonl", "ledger.jsonl")


def small_bundle(d: Path) -> Path:
    """Export a bundle from a fresh store with one synthetic collection."""
    from click.testing import CliRunner

    from collector.cli import cli
    from tests.conftest import PLUGINS, write_config

    sys.path.insert(0, str(PLUGINS))
    cfg = write_config(d)
    run = CliRunner()
    for args in (["key", "create"], ["collect"],
                 ["export", "--control", "CC6.1", "-o", str(d / "good.zip")]):
        r = run.invoke(cli, ["-c", str(cfg), *args])
        assert r.exit_code == 0, r.output
    return d / "good.zip"


def bomb(good: Path, out: Path, name: str, size: int) -> None:
    """`good` with entry `name` replaced by (or added as) `size` zero bytes, deflated."""
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info.filename, src.read(info.filename), zipfile.ZIP_DEFLATED)
        zi = zipfile.ZipInfo(name)
        zi.compress_type = zipfile.ZIP_DEFLATED
        with dst.open(zi, "w", force_zip64=True) as f:
            for _ in range(size // len(block)):
                f.write(block)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gib", type=float, default=1.0)
    ap.add_argument("--dir", help="Work folder (default: a temporary one).")
    args = ap.parse_args()
    if args.dir:
        Path(args.dir).mkdir(parents=True, exist_ok=True)
    d = Path(tempfile.mkdtemp(prefix="zipbomb_", dir=args.dir))
    print(json.dumps(machine()), flush=True)
    good = small_bundle(d)
    size = int(args.gib * (1 << 30))
    mb, dt, rc, out = run_measured([str(EXE), "verify-bundle", "--json", str(good)])
    print(f"baseline (the valid bundle): {mb:.0f} MB peak RSS, {dt:.2f}s, exit {rc}", flush=True)
    results = []
    for name in NAMES:
        z = d / f"bomb-{name.split('/')[0].replace('.', '_')}.zip"
        t = time.perf_counter()
        bomb(good, z, name, size)
        built = time.perf_counter() - t
        mb, dt, rc, out = run_measured([str(EXE), "verify-bundle", "--json", str(z)])
        try:
            rep = json.loads(out[out.index("{"):])
            first = rep.get("problems", [rep.get("error")])[:2]
        except ValueError:
            first = [out.strip()[:200]]
        print(f"{name}: zip {z.stat().st_size / 1e6:.2f} MB holding {size / (1 << 30):.2f} GiB "
              f"(built in {built:.0f}s); verify-bundle {dt:.1f}s, peak RSS {mb:.0f} MB, exit "
              f"{rc}; {first}", flush=True)
        results.append({"entry": name, "zip_bytes": z.stat().st_size, "entry_bytes": size,
                        "seconds": round(dt, 2), "peak_rss_mb": round(mb, 1), "exit": rc})
        z.unlink()
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
