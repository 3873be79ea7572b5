"""Synthetic evidence stores for the benchmarks (shared by index_query.py and memory.py).

A store of N records looks like a real one that has been collecting for a long time:
50 series (connector instance x snapshot) over 60 real SOC 2 criteria, one collection run
per hour that collects every series, one seal per run. Posture content changes now and then
(so its blobs deduplicate, as they do in production); population records each cover their
own window (so their content and IPE blobs are distinct). Records are chained with the real
`storage.ledger.append_rows` (real record hashes) in large batches.

Blobs are optional: the index benchmark needs only their hashes; the memory benchmark
writes them (as files in FileBlobStore's layout, without FileBlobStore's per-file fsync, to
keep the build fast) so that `verify` checks a store that is intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, text

from collector.controls import criteria
from storage import keys
from storage.blobs import FileBlobStore
from storage.index import make_engine, migrate, runs, seals
from storage.ledger import Seal, append_rows

T0 = datetime(2024, 1, 1, tzinfo=UTC)
N_SERIES = 50
N_CRITERIA = 60
RUN_EVERY = timedelta(hours=1)

PG_ADMIN = os.environ.get("BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

_SNAPSHOTS = {
    "aws": ["iam_users", "iam_password_policy", "root_mfa", "access_keys", "s3_encryption",
            "s3_public_access", "cloudtrail_trails", "config_recorders", "kms_rotation",
            "rds_encryption", "ebs_default_encryption", "guardduty", "cloudtrail_events"],
    "gcp": ["iam_policy", "org_policies", "audit_logging", "kms_keys", "sql_backups",
            "admin_activity"],
    "azure": ["role_assignments", "conditional_access", "storage_encryption",
              "activity_log", "defender_plans"],
    "okta": ["users_mfa", "password_policy", "admin_roles", "system_log",
             "deprovisioned_users"],
    "github": ["branch_protection", "org_members_2fa", "merged_changes", "repo_admins",
               "secret_scanning"],
    "jira": ["change_tickets", "incident_tickets", "access_requests"],
}
_POPULATIONS = {"cloudtrail_events", "admin_activity", "activity_log", "system_log",
                "merged_changes", "change_tickets", "incident_tickets",
                "access_requests"}
_INSTANCES = {"aws": ["prod", "staging"], "gcp": ["prod"], "azure": ["corp"],
              "okta": ["acme"], "github": ["acme"], "jira": ["acme"]}


@dataclass(frozen=True)
class Series:
    connector: str
    instance: str
    snapshot: str
    kind: str
    controls: tuple[str, ...]
    max_age_seconds: int
    change_every: int  # posture content changes every this many runs
    items: int


def make_series(seed: int = 7) -> list[Series]:
    """50 series over 60 real criteria; every criterion is supported by 1-4 series."""
    rnd = random.Random(seed)
    crit = list(criteria())[:N_CRITERIA]
    pairs = [(c, i, s) for c, snaps in _SNAPSHOTS.items() for i in _INSTANCES[c] for s in snaps]
    rnd.shuffle(pairs)
    pairs = sorted(pairs[:N_SERIES])
    assert len(pairs) == N_SERIES, len(pairs)
    mapped: list[set[str]] = [set() for _ in pairs]
    for k, cid in enumerate(crit):  # each criterion at least once
        mapped[k % N_SERIES].add(cid)
    for m in mapped:  # plus 0-2 more
        m.update(rnd.sample(crit, rnd.randint(0, 2)))
    out = []
    for (c, i, s), m in zip(pairs, mapped, strict=True):
        pop = s in _POPULATIONS
        out.append(Series(c, i, s, "population" if pop else "posture", tuple(sorted(m)),
                          rnd.choice([6, 24, 24, 72]) * 3600, rnd.choice([12, 48, 168, 720]),
                          rnd.choice([3, 20, 150, 1200])))
    return out


def _h(key: Any) -> int:
    return zlib.crc32(repr(key).encode())


def _json(v: Any) -> bytes:
    # Equal to RFC 8785 for the ASCII strings and integers used here, and much faster.
    return json.dumps(v, sort_keys=True, separators=(",", ":")).encode()


class Generator:
    """Deterministic rows (and the blobs they reference) for a store of `n` records."""

    def __init__(self, n: int, seed: int = 7, *, want_blobs: bool = False) -> None:
        self.n = n
        self.series = make_series(seed)
        self.rnd = random.Random(seed + 1)
        self.want_blobs = want_blobs
        self.blobs: dict[str, bytes] = {}  # new blobs since the last drain
        self._known: dict[Any, tuple[str, int]] = {}
        self.runs = -(-n // N_SERIES)

    def end_time(self) -> datetime:
        return T0 + RUN_EVERY * self.runs

    def _blob(self, key: Any, make: Callable[[], bytes]) -> tuple[str, int]:
        hit = self._known.get(key)
        if hit is None:
            data = make()
            hit = (hashlib.sha256(data).hexdigest(), len(data))
            if len(self._known) > 200_000:  # posture keys repeat; population keys do not
                self._known.clear()
            self._known[key] = hit
            if self.want_blobs:
                self.blobs[hit[0]] = data
        return hit

    def rows(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(run number, row) in ledger order: every run collects every series."""
        rnd = self.rnd
        made = 0
        for r in range(self.runs):
            start = T0 + RUN_EVERY * r + timedelta(seconds=rnd.randint(0, 90))
            run_id = f"{int(start.timestamp()):08x}{r:012x}"
            t = start
            for k, s in enumerate(self.series):
                if made >= self.n:
                    return
                made += 1
                began = t
                t = t + timedelta(milliseconds=rnd.randint(150, 9000))
                roll = rnd.random()
                status = "complete" if roll < 0.97 else ("partial" if roll < 0.99 else "failed")
                version = r // s.change_every
                items = s.items + version % 7
                if s.kind == "population":
                    ps = T0 + RUN_EVERY * (r - 1) if r else T0 - RUN_EVERY
                    pe = T0 + RUN_EVERY * r
                    ckey: Any = ("pop", k, r)
                    params = {"since": ps.isoformat(), "until": pe.isoformat(), "limit": 1000}
                    items = rnd.randint(0, 60)
                else:
                    ps = pe = None
                    ckey = ("post", k, version)
                    params = {"limit": 100}
                pages = max(1, -(-items // 100))
                ipe = {"principal": f"arn:{s.connector}:{s.instance}:evidence-reader",
                       "source": f"{s.connector}:{s.instance}",
                       "calls": [{"operation": f"List{s.snapshot.title().replace('_', '')}",
                                  "params": params, "target": s.instance, "pages": pages,
                                  "items": items, "ok": status != "failed",
                                  "error": "HTTP 503" if status == "failed" else None}],
                       "api_calls": 1, "pages": pages, "api_totals": {"items": items},
                       "pagination_exhausted": status == "complete", "retries": 0,
                       "errors": [] if status == "complete" else ["cut short"]}
                ipe_sha, _ = self._blob(("ipe", ckey, status), lambda ipe=ipe: _json(ipe))
                content_sha = None
                size = 0
                assessment: dict[str, int] = {}
                findings_sha = None
                if status != "failed":
                    def content(s: Series = s, ckey: Any = ckey, items: int = items) -> bytes:
                        g = random.Random(_h(ckey))
                        return _json({"items": [
                            {"name": f"{s.snapshot}-{j:05d}", "arn": f"arn:{s.connector}:"
                             f"{s.instance}:{s.snapshot}/{j:05d}", "enabled": g.random() < 0.9,
                             "mfa": g.random() < 0.8, "created": "2023-05-01T00:00:00Z",
                             "tags": {"owner": f"team-{j % 9}"}} for j in range(items)]})
                    content_sha, size = self._blob(("content", ckey), content)
                    if s.kind == "posture":
                        fail = (_h(ckey) & 0xFF) % max(1, items // 10 + 1)
                        assessment = {"pass": items - fail, "fail": fail} if items else {}
                        findings_sha, _ = self._blob(("findings", ckey), lambda a=assessment,
                                                     c=ckey: _json({"findings": a, "of": c[2]}))
                row = {
                    "id": f"{int(began.timestamp()):08x}{made:012x}", "run_id": run_id,
                    "connector": s.connector, "instance": s.instance, "snapshot": s.snapshot,
                    "kind": s.kind, "source": ipe["source"], "principal": ipe["principal"],
                    "collected_started_at": began, "collected_finished_at": t,
                    "effective_at": t if s.kind == "posture" else None,
                    "period_start": ps, "period_end": pe, "status": status,
                    "complete": status == "complete", "record_count": items,
                    "api_calls": 1, "pages": pages, "retries": 0,
                    "api_totals": {"items": items}, "content_sha256": content_sha,
                    "content_size": size, "ipe_sha256": ipe_sha,
                    "findings_sha256": findings_sha, "assessment": assessment,
                    "controls": list(s.controls), "max_age_seconds": s.max_age_seconds,
                    "error": "List: HTTP 503" if status == "failed" else None,
                }
                yield r, row

    def drain_blobs(self) -> dict[str, bytes]:
        out, self.blobs = self.blobs, {}
        return out


def write_blob_files(blobs: FileBlobStore, items: dict[str, bytes]) -> int:
    """Write blobs in FileBlobStore's layout (read-only files), skipping ones present."""
    written = 0
    for sha, data in items.items():
        p = blobs.path(sha)
        if p.exists():
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_bytes(data)
        os.chmod(tmp, 0o444)
        os.replace(tmp, p)
        written += len(data)
    return written


@dataclass
class LoadResult:
    records: int
    seconds: float
    append_seconds: float  # inside storage.ledger.append_rows (hashing + INSERT)
    seals: int
    blob_bytes: int


def load(engine: Engine, n: int, *, batch: int = 50_000, blob_store: FileBlobStore | None = None,
         key_path: Path | None = None, progress: bool = True) -> LoadResult:
    """Load `n` synthetic records into a migrated index; one seal (and run row) per run."""
    gen = Generator(n, want_blobs=blob_store is not None)
    key = keys.load_or_create(key_path) if key_path else None
    key_id = keys.key_id(key.public_key()) if key else "bench"
    t0 = time.perf_counter()
    t_append = 0.0
    nseals = 0
    blob_bytes = 0
    buf: list[dict[str, Any]] = []
    bounds: list[tuple[int, str, datetime]] = []  # (index in buf of run's last row, run id, t)
    last_run = -1

    def flush() -> None:
        nonlocal t_append, nseals, blob_bytes, buf, bounds
        if blob_store is not None:
            blob_bytes += write_blob_files(blob_store, gen.drain_blobs())
        ta = time.perf_counter()
        with engine.begin() as conn:
            out = append_rows(conn, buf)
            seal_rows, run_rows, files = [], [], []
            first = 0
            for idx, run_id, when in bounds:
                last = out[idx]
                # a run seal vouches for the run's own records (contiguous here)
                cov = ((int(out[first]["seq"]), int(last["seq"])),)
                first = idx + 1
                s = Seal(int(last["seq"]), last["record_hash"], when, run_id, key_id, "", cov)
                sig = keys.sign(key, s.payload()) if key else "0" * 88
                s = Seal(s.seq, s.head_hash, when, run_id, key_id, sig, cov)
                seal_rows.append({"seq": s.seq, "head_hash": s.head_hash, "sealed_at": when,
                                  "run_id": run_id, "key_id": key_id, "signature": sig,
                                  "v": 2, "covers": [list(r) for r in cov], "purpose": "run"})
                started = when - timedelta(seconds=60)
                run_rows.append({"id": run_id, "trigger": "schedule:hourly", "host": "bench",
                                 "pid": 1, "started_at": started, "finished_at": when,
                                 "status": "complete", "summary": {"counts": {"complete": 50}}})
                files.append(s)
            if seal_rows:
                conn.execute(insert(seals), seal_rows)
                conn.execute(insert(runs), run_rows)
        t_append += time.perf_counter() - ta
        if blob_store is not None:
            blob_store.seal_dir.mkdir(parents=True, exist_ok=True)
            for s in files:
                name = (f"{s.seq:012d}-{s.sealed_at.strftime('%Y%m%dT%H%M%S%fZ')}-"
                        f"{s.key_id}.json")
                (blob_store.seal_dir / name).write_text(json.dumps(s.to_json(), indent=2))
        nseals += len(seal_rows)
        buf, bounds = [], []

    done = 0
    prev_run_id, prev_t = None, None
    for r, row in gen.rows():
        if r != last_run and buf and last_run >= 0:
            bounds.append((len(buf) - 1, prev_run_id, prev_t))
            if len(buf) >= batch:
                flush()
        last_run = r
        buf.append(row)
        prev_run_id, prev_t = row["run_id"], row["collected_finished_at"]
        done += 1
        if progress and done % 200_000 == 0:
            el = time.perf_counter() - t0
            print(f"    {done:>9,} records  {el:6.1f}s  {done / el:,.0f}/s", flush=True)
    if buf:
        bounds.append((len(buf) - 1, prev_run_id, prev_t))
        flush()
    return LoadResult(done, time.perf_counter() - t0, t_append, nseals, blob_bytes)


# databases ------------------------------------------------------------------------------
def pg_create(name: str) -> str:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        c.execute(text(f"CREATE DATABASE {name}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def pg_drop(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def fresh_engine(url: str) -> Engine:
    eng = make_engine(url)
    migrate(eng)
    return eng


def write_config(directory: Path, index_url: str) -> Path:
    p = directory / "evidence.toml"
    p.write_text(f'[store]\nindex_url = "{index_url}"\nblob_dir = "blobs"\nseal_dir = "seals"\n\n'
                 f'[signing]\nkey_file = "signing.key"\n')
    return p


def machine() -> dict[str, Any]:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": model, "ram": mem,
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC") + f" (load {loadavg()})"}


def loadavg() -> str:
    """The 1/5/15-minute load averages: the machine may be shared with other work."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"
