"""Re-collecting an unchanged source adds no blob bytes: collect twice, compare the store.

    .venv/bin/python bench/dedup.py                   # synthetic connector, then AWS on moto
    .venv/bin/python bench/dedup.py --source synthetic
    .venv/bin/python bench/dedup.py --source aws

Each source: a fresh store in a temp dir, two real collections one after the other through
`collector.runner.Collector` (the code behind `evidence collect`), and the blob store's size
(files and bytes, walked on disk), the seal files and the index file before and after the
second run. Every blob the second run added is listed with the snapshot that wrote it.

`synthetic` is the test plugin connector (tests/plugins; registered through its dist-info
entry point): posture snapshots `items` (2,000 items, ~0.5 MB of content) and `settings`,
and the population snapshot `events`. `aws` is the built-in AWS connector against moto's
server and the CloudTrail simulator, seeded as `evidence demo` seeds them.

Population snapshots collect a new window each run ([end of the last window, now)): that is
new evidence, so they are expected to add a record and its small IPE blob (the window's
parameters); their content adds bytes only when the window holds new events.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
import traceback
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PLUGINS = ROOT / "tests" / "plugins"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(PLUGINS))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from synth import machine  # noqa: E402


def blob_files(root: Path) -> dict[str, int]:
    base = root / "sha256"
    return {p.name: p.stat().st_size for p in base.rglob("*") if p.is_file()} \
        if base.is_dir() else {}


def dir_bytes(d: Path) -> tuple[int, int]:
    files = [p for p in d.rglob("*") if p.is_file()] if d.is_dir() else []
    return len(files), sum(p.stat().st_size for p in files)


def json_diff(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two JSON values differ (first few), e.g. `calls[3].params.Marker`."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(f"{path}.{k} only in {'run 2' if k in b else 'run 1'}")
            else:
                out.extend(json_diff(a[k], b[k], f"{path}.{k}"))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} entries"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(json_diff(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [f"{path}: {str(a)[:60]!r} -> {str(b)[:60]!r}"]


def state(store_dir: Path) -> dict[str, Any]:
    blobs = blob_files(store_dir / "blobs")
    seal_n, seal_b = dir_bytes(store_dir / "seals")
    idx = sum(p.stat().st_size for p in store_dir.glob("index.db*"))
    return {"blobs": blobs, "blob_n": len(blobs), "blob_b": sum(blobs.values()),
            "seal_n": seal_n, "seal_b": seal_b, "index_b": idx}


def synthetic_config(d: Path) -> str:
    return ('[store]\nindex_url = "sqlite:///index.db"\nblob_dir = "blobs"\n'
            'seal_dir = "seals"\n\n[signing]\nkey_file = "signing.key"\n\n'
            '[collector]\nconcurrency = 4\nbackoff_seconds = 0\n\n'
            '[[connectors]]\ntype = "synthetic"\ninstance = "acme"\nitems = 2000\n'
            'payload_bytes = 200\nseed = "bench"\n')


def run_source(source: str, d: Path) -> bool:
    import logging

    from collector.config import load
    from collector.runner import Collector, Selection
    from connectors.registry import _scan
    from storage.store import EvidenceStore
    from storage.verify import verify

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    _scan.cache_clear()
    with ExitStack() as stack:
        if source == "aws":
            from collector.demo import _config, start_simulators

            urls = start_simulators(stack)
            text = _config(d, urls["aws"]).replace('blob_dir = "blobs"\n',
                                                   'blob_dir = "blobs"\nseal_dir = "seals"\n')
        else:
            text = synthetic_config(d)
        cfg_path = d / "evidence.toml"
        cfg_path.write_text(text)
        cfg = load(cfg_path)
        states = [state(d)]
        summaries = []
        for n in (1, 2):
            store = EvidenceStore.open(cfg)
            t = time.perf_counter()
            summary = Collector(cfg, store).run(Selection(), trigger=f"bench-dedup-{n}")
            dt = time.perf_counter() - t
            counts = summary.to_json()["counts"]
            print(f"  run {n}: {summary.status} {counts} in {dt:.1f}s, sealed at "
                  f"#{summary.seal_seq}", flush=True)
            summaries.append(summary)
            store.close()
            states.append(state(d))
            time.sleep(1.0)
        store = EvidenceStore.open(cfg)
        rep = verify(store)
        a, b = states[1], states[2]
        print(f"  after run 1: {a['blob_n']:>4} blobs {a['blob_b']:>11,} bytes | "
              f"{a['seal_n']} seal files {a['seal_b']:,} bytes | index {a['index_b']:,} bytes")
        print(f"  after run 2: {b['blob_n']:>4} blobs {b['blob_b']:>11,} bytes | "
              f"{b['seal_n']} seal files {b['seal_b']:,} bytes | index {b['index_b']:,} bytes")
        new = {sha: size for sha, size in b["blobs"].items() if sha not in a["blobs"]}
        print(f"  run 2 added {len(new)} blob(s), {sum(new.values()):,} bytes "
              f"({sum(new.values()) / max(1, a['blob_b']) * 100:.2f}% of the store after run 1)")
        by_snap: dict[tuple[str, str], list[str]] = {}
        posture_bytes = 0
        for o in summaries[1].outcomes:
            for rid in o.record_ids:
                r = store.record(rid)
                assert r is not None
                for col in ("content_sha256", "ipe_sha256", "findings_sha256"):
                    sha = r[col]
                    if sha and sha in new:
                        by_snap.setdefault((f"{o.instance}/{o.snapshot} ({r['kind']})", col),
                                           []).append(f"{new[sha]:,} B")
                        if r["kind"] == "posture":
                            posture_bytes += new[sha]
        for (snap, col), sizes in sorted(by_snap.items()):
            print(f"      {snap:<44} {col:<16} {', '.join(sizes)}")
        first = {(o.instance, o.snapshot): o.record_ids[-1] for o in summaries[0].outcomes
                 if o.record_ids}
        for o in summaries[1].outcomes:
            if not o.record_ids or (o.instance, o.snapshot) not in first:
                continue
            r1, r2 = store.record(first[(o.instance, o.snapshot)]), store.record(o.record_ids[-1])
            assert r1 is not None and r2 is not None
            if r2["kind"] != "posture":
                continue
            for col in ("content_sha256", "ipe_sha256", "findings_sha256"):
                if r1[col] and r2[col] and r1[col] != r2[col]:
                    diff = json_diff(store.blob_json(r1[col]), store.blob_json(r2[col]))
                    print(f"      why {o.snapshot} {col} changed: {'; '.join(diff[:4])}"
                          + (f" (+{len(diff) - 4} more)" if len(diff) > 4 else ""))
        n_posture = sum(1 for o in summaries[1].outcomes
                        for _ in o.record_ids if _ and o.snapshot)  # records in run 2
        print(f"  run 2 wrote {n_posture} records; blob bytes added by posture snapshots: "
              f"{posture_bytes:,}; verify: {'intact' if rep.ok else rep.problems[:3]}")
        store.close()
        unchanged = all(o.status == "complete" for o in summaries[0].outcomes)
        if not unchanged:
            print("  note: some snapshots of run 1 did not complete:",
                  [(o.snapshot, o.status, o.error) for o in summaries[0].outcomes
                   if o.status != "complete"])
        return posture_bytes == 0 and rep.ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", choices=["synthetic", "aws", "both"], default="both")
    ap.add_argument("--dir", help="Keep the stores under this folder.")
    args = ap.parse_args()
    m = machine()
    print(f"machine: {m['nproc']} cpus, {m['cpu']}, {m['ram']}; {m['date']}")
    os.environ["PYTHONPATH"] = os.pathsep.join([str(PLUGINS), str(ROOT),
                                                os.environ.get("PYTHONPATH", "")])
    sources = ["synthetic", "aws"] if args.source == "both" else [args.source]
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="bench_dedup_"))
    ok_all = True
    try:
        for src in sources:
            d = base / src
            d.mkdir(parents=True, exist_ok=True)
            print(f"== {src}", flush=True)
            try:
                ok = run_source(src, d)
            except Exception as e:  # the AWS connector may still be in progress
                traceback.print_exc(limit=3)
                print(f"  could not run the {src} source: {type(e).__name__}: {e}")
                ok = False
            print(f"  RESULT {src}: posture re-collection added no blob bytes: "
                  f"{'MET' if ok else 'NOT SHOWN'}")
            ok_all &= ok
    finally:
        if not args.dir:
            shutil.rmtree(base, ignore_errors=True)
    return 0 if ok_all else 1


if __name__ == "__main__":
    sys.exit(main())
