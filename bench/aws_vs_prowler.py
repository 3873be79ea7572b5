"""AWS evidence: `evidence collect --connector aws` against Prowler on the same moto account.

    .venv/bin/python bench/aws_vs_prowler.py [--users 2000 --buckets 200 --keys 20]
        [--latency-ms 0 30] [--skip-prowler] [--no-warm-up] [--fresh-store] [--plain-dispatch]

Starts moto (bench/moto_server.py, a subprocess), seeds it with `seed_bench`, then for each
latency runs, each as a subprocess measured by wall time and peak RSS (os.wait4), straight
against moto with no proxy in between: our collector for the same evidence, and Prowler
(installed in a throwaway venv under bench/out/, never a project dependency) with the six
checks. The server itself counts requests per run (no proxy in the timed path). Prowler gets
the S3 Control name resolution ours has (bench/prowler_shim). Compares verdicts user by user
(console MFA) and bucket by bucket (default encryption, public access block) and prints one
JSON result. Before the timed runs each tool runs once untimed (`--no-warm-up` skips it), so
neither is timed on a moto that pays first-use costs for it; ours collects into a store whose
index exists (`--fresh-store` times its creation too). Nothing leaves 127.0.0.1 except
Prowler's install.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
PROWLER_VENV = OUT / "prowler-venv"
CHECKS = ["iam_user_mfa_enabled_console_access", "iam_password_policy_minimum_length_14",
          "s3_bucket_default_encryption", "s3_bucket_level_public_access_block",
          "cloudtrail_multi_region_enabled", "kms_cmk_rotation_enabled"]
SNAPSHOTS = ["iam_credential_report", "password_policy", "s3_buckets", "cloudtrail",
             "kms_key_rotation"]
ENV = {"AWS_ACCESS_KEY_ID": "AKIABENCHBENCHBENCH0", "AWS_SECRET_ACCESS_KEY": "bench-not-secret",
       "AWS_DEFAULT_REGION": "us-east-1", "MOTO_EC2_LOAD_DEFAULT_AMIS": "false"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measured(cmd: list[str], env: dict[str, str], log: Path,
             timeout: float = 3600) -> dict[str, Any]:
    """Run `cmd`; its wall time, exit code and peak RSS (this child only, via wait4)."""
    load0 = round(os.getloadavg()[0], 1)
    t0 = time.monotonic()
    with log.open("wb") as out:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=OUT)
        deadline = t0 + timeout
        while True:
            pid, status, usage = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                p.kill()
                pid, status, usage = os.wait4(p.pid, 0)
                break
            time.sleep(0.05)
    p.returncode = os.waitstatus_to_exitcode(status)
    return {"seconds": round(time.monotonic() - t0, 2), "exit_code": p.returncode,
            "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 2),
            "load_average": [load0, round(os.getloadavg()[0], 1)]}


def ensure_prowler() -> Path:
    """Prowler in its own venv (created once); never installed into the project's venv. With
    `uv` on PATH the install resolves in minutes (pip took ~55 minutes on a loaded machine).
    Its bytecode is compiled once here, as pip does at install and uv does not, so no timed
    run pays for compiling Prowler's sources."""
    exe = PROWLER_VENV / "bin" / "prowler"
    py = PROWLER_VENV / "bin" / "python"
    if not exe.exists():
        uv = shutil.which("uv")
        if uv:
            subprocess.run([uv, "venv", "--python", sys.executable, str(PROWLER_VENV)],
                           check=True)
            subprocess.run([uv, "pip", "install", "--python", str(py), "prowler"], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(PROWLER_VENV)], check=True)
            subprocess.run([str(PROWLER_VENV / "bin" / "pip"), "install", "-q", "prowler"],
                           check=True)
        # a few of its dependencies ship files that do not compile: not an error here
        subprocess.run([str(py), "-m", "compileall", "-q", "-j", "0", str(PROWLER_VENV / "lib")],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return exe


def prowler_version(exe: Path) -> str:
    r = subprocess.run([str(exe), "--version"], capture_output=True, text=True, timeout=300)
    return (r.stdout or r.stderr).strip().splitlines()[-1] if (r.stdout or r.stderr) else "?"


def bench_control(url: str, query: str) -> dict[str, Any]:
    """Ask bench/moto_server.py to set its latency or to answer (and reset) its counts."""
    with urllib.request.urlopen(f"{url}/_bench/?{query}", timeout=30) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def server_cpu(pid: int) -> float:
    """CPU seconds the moto server has used so far (Linux /proc): its share of a run."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counts(answer: dict[str, Any]) -> dict[str, Any]:
    """Requests by operation, and the server's CPU for them (its handling threads' CPU time,
    measured inside the server)."""
    by: dict[str, int] = answer["requests"]
    cpu: dict[str, int] = answer.get("cpu_ms", {})
    return {"total": sum(by.values()), "server_cpu_ms": sum(cpu.values()),
            "by_operation": dict(sorted(by.items(), key=lambda kv: (-kv[1], kv[0]))),
            "server_cpu_ms_by_operation": dict(sorted(cpu.items(),
                                                      key=lambda kv: (-kv[1], kv[0])))}


def write_config(work: Path, url: str) -> Path:
    """`work`/evidence.toml: a SQLite store in `work` and the aws connector at `url` with the
    snapshots that carry the compared evidence."""
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "evidence.toml"
    cfg.write_text(f"""[store]
index_url = "sqlite:///{work}/index.db"
blob_dir = "{work}/blobs"
[signing]
key_file = "{work}/signing.key"
[collector]
concurrency = 4
[[connectors]]
type = "aws"
instance = "bench"
regions = ["us-east-1"]
endpoint_url = "{url}"
snapshots = {json.dumps(SNAPSHOTS)}
""")
    return cfg


def ours(url: str, env: dict[str, str], work: Path,
         fresh_store: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run `evidence collect --connector aws`; measurements and our verdicts. Unless
    `fresh_store`, the store's index is created first, untimed (`evidence migrate`), as a
    deployed agent finds it: only its first run ever creates the schema."""
    cfg = write_config(work, url)
    exe = str(Path(sys.executable).parent / "evidence")
    if not fresh_store:
        subprocess.run([exe, "-c", str(cfg), "migrate"], env=env, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    m = measured([exe, "-c", str(cfg), "collect", "--connector", "aws", "--json"], env,
                 work / "collect.log")
    from collector.config import load
    from connectors.aws import AwsConnector
    from storage.store import EvidenceStore

    st = EvidenceStore.open(load(cfg))
    verdicts: dict[str, dict[str, str]] = {"mfa": {}, "encryption": {}, "public_access": {}}
    ipe_calls = 0
    for rec in st.iter_records():
        if rec["connector"] != "aws" or not rec["content_sha256"]:
            continue
        ipe_calls += int(rec["api_calls"])
        spec = AwsConnector.snapshots()[rec["snapshot"]]
        assert spec.assess is not None
        for f in spec.assess(st.blob_json(rec["content_sha256"])):
            key = {"console MFA": "mfa", "default encryption": "encryption",
                   "public access block": "public_access"}.get(f.reason.split(":")[0])
            if key:
                verdicts[key][f.resource] = f.status.upper()
    st.close()
    m["ipe_logical_calls"] = ipe_calls
    return m, verdicts


def prowler(exe: Path, url: str, env: dict[str, str],
            work: Path) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """Run Prowler's six checks against the same endpoint; measurements and its verdicts."""
    shim = str(Path(__file__).resolve().parent / "prowler_shim")
    penv = dict(env, AWS_ENDPOINT_URL=url, PYTHONPATH=shim)
    m = measured([str(exe), "aws", "-f", "us-east-1", "--checks", *CHECKS, "--no-banner",
                  "-M", "json-ocsf", "--output-directory", str(work),
                  "--output-filename", "prowler", "--ignore-exit-code-3"],
                 penv, work / "prowler.log")
    verdicts: dict[str, dict[str, str]] = {"mfa": {}, "encryption": {}, "public_access": {}}
    which = {"iam_user_mfa_enabled_console_access": "mfa",
             "s3_bucket_default_encryption": "encryption",
             "s3_bucket_level_public_access_block": "public_access"}
    for f in sorted(work.glob("prowler*.ocsf.json")):
        for item in json.loads(f.read_text() or "[]"):
            check = (item.get("metadata", {}).get("event_code")
                     or item.get("finding_info", {}).get("uid", ""))
            key = next((v for k, v in which.items() if k in str(check)), None)
            if key is None:
                continue
            for r in item.get("resources", []):
                verdicts[key][str(r.get("uid"))] = str(item.get("status_code", "")).upper()
    return m, verdicts


def agreement(a: dict[str, str], b: dict[str, str]) -> dict[str, Any]:
    both = set(a) & set(b)
    differ = sorted(k for k in both if a[k] != b[k])
    return {"ours": len(a), "prowler": len(b), "compared": len(both),
            "agree": len(both) - len(differ),
            "differ": differ[:10], "only_ours": sorted(set(a) - set(b))[:5],
            "only_prowler": sorted(set(b) - set(a))[:5]}


def both(url: str, env: dict[str, str], exe: Path | None, moto_pid: int, run_dir: Path,
         fresh_store: bool) -> dict[str, Any]:
    """Ours, then Prowler (unless `exe` is None), each with the requests it made and moto's
    CPU for them; with both, the speed-up and verdict agreement."""
    def measure(tool: Callable[[], tuple[dict[str, Any], dict[str, Any]]]
                ) -> tuple[dict[str, Any], dict[str, Any]]:
        cpu0 = server_cpu(moto_pid)
        m, verdicts = tool()
        return dict(m, api_requests=counts(bench_control(url, "reset=1")),
                    server_cpu_seconds=round(server_cpu(moto_pid) - cpu0, 2)), verdicts

    (run_dir / "ours").mkdir(parents=True)
    m_ours, v_ours = measure(lambda: ours(url, env, run_dir / "ours", fresh_store))
    one: dict[str, Any] = {"ours": m_ours}
    if exe is not None:
        (run_dir / "prowler").mkdir()
        m_pr, v_pr = measure(lambda: prowler(exe, url, env, run_dir / "prowler"))
        one["prowler"] = m_pr
        one["speedup"] = round(m_pr["seconds"] / max(m_ours["seconds"], 0.01), 1)
        one["agreement"] = {k: agreement(v_ours[k], v_pr[k]) for k in v_ours}
    return one


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--buckets", type=int, default=200)
    ap.add_argument("--keys", type=int, default=20)
    ap.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 30.0])
    ap.add_argument("--skip-prowler", action="store_true")
    ap.add_argument("--fresh-store", action="store_true",
                    help="time ours creating its index too (a first run ever; ~0.25 s)")
    ap.add_argument("--plain-dispatch", action="store_true",
                    help="serve moto with its per-request backend lookup and request log, as "
                         "`python -m moto.server` does (see bench/moto_server.py)")
    ap.add_argument("--no-warm-up", dest="warm_up", action="store_false",
                    help="time each tool on a moto that has not served it yet (the tool run "
                         "first pays moto's first-use costs)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = OUT / f"run-{stamp}"
    work.mkdir()
    env = dict(os.environ, **ENV)
    # both tools run from compiled bytecode, as installed software does (this environment
    # sets PYTHONDONTWRITEBYTECODE, which would recompile every module on every run)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    exe = None if args.skip_prowler else ensure_prowler()

    from simulators.aws_seed import seed_bench

    port = free_port()
    server = Path(__file__).resolve().parent / "moto_server.py"
    moto = subprocess.Popen([sys.executable, str(server), "--port", str(port),
                             *(["--plain-dispatch"] if args.plain_dispatch else [])], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    result: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} CPUs, "
                   f"{platform.system()} {platform.release()}, "
                   f"Python {platform.python_version()}",
        "load_average": [round(x, 1) for x in os.getloadavg()],
        "size": {"users": args.users, "buckets": args.buckets, "keys": args.keys},
        "moto_dispatch": "plain" if args.plain_dispatch else "lean",
        "runs": []}
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(400):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        t0 = time.monotonic()
        seed_bench(url, users=args.users, buckets=args.buckets, keys=args.keys)
        result["seed_seconds"] = round(time.monotonic() - t0, 1)
        if exe is not None:
            result["prowler_version"] = prowler_version(exe)
        if args.warm_up:
            # One untimed run of each tool first: moto's first answer to each operation pays
            # one-time costs (handler imports, template compiles, backends built on first
            # use: ~0.75 s of server CPU for ours), which real AWS never charges. Without
            # this, the tool timed first pays them and the other does not.
            bench_control(url, "latency_ms=0&reset=1")
            result["warm_up"] = both(url, env, exe, moto.pid, work / "warm-up",
                                     args.fresh_store)
            print(json.dumps({"warm_up_seconds": {t: result["warm_up"][t]["seconds"]
                                                  for t in ("ours", "prowler")
                                                  if t in result["warm_up"]}}), flush=True)
        for latency in args.latency_ms:
            bench_control(url, f"latency_ms={latency}&reset=1")
            one: dict[str, Any] = {"latency_ms": latency, **both(
                url, env, exe, moto.pid, work / f"latency-{latency:g}ms", args.fresh_store)}
            result["runs"].append(one)
            print(json.dumps(one, indent=2), flush=True)
    finally:
        moto.terminate()
        moto.wait(timeout=30)
    (work / "result.json").write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
