"""`evidence demo`: local simulators, one full collection, a query per control, verify.

Everything runs on 127.0.0.1: moto's server stands in for AWS (seeded with two realistic
accounts, reached by assuming a role in each) and our front (simulators/aws_front.py)
answers what moto lacks: LookupEvents, true credential reports, Config delivery status; our
Okta simulator serves a small org to the okta SDK through an OAuth 2.0 service app whose
private-key JWT it verifies (an API token is configured too, for `connectors check`); the
Azure simulator stands in for Entra ID, Azure Resource Manager and Microsoft Graph over
HTTPS; our GitHub simulator serves a seeded organization (simulators/github_seed.py) and our
Jira simulator the change tickets its pull requests name, so the GitHub-Jira join shows
passes beside the intended failures; our GCP simulator serves a 12-project organization
(its key file issued by the simulator, read by reference).
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

DEMO_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIADEMODEMODEMO0000",
    "AWS_SECRET_ACCESS_KEY": "demo-secret-not-real",  # moto accepts any key
    "AWS_DEFAULT_REGION": "us-east-1",
    "MOTO_EC2_LOAD_DEFAULT_AMIS": "false",
}


OKTA_DEMO_TOKEN = "00demo-okta-api-token-not-real-0000000000"
OKTA_DEMO_CLIENT = "0oa1evidencedemo0001"


def _okta_config(okta_url: str, key_file: Path) -> str:
    return f"""
[[connectors]]
type = "okta"
instance = "demo"
org_url = "{okta_url}"
allow_http = true                     # the local simulator only; real orgs are https
api_token = {{ env = "OKTA_DEMO_API_TOKEN" }}
oauth = {{ client_id = "{OKTA_DEMO_CLIENT}", private_key = {{ file = "{key_file}" }} }}
"""


def _github_config(url: str, token_env: str) -> str:
    return f"""
[[connectors]]
type = "github"
instance = "demo"
base_url = "{url}"
organizations = ["acme"]
token = {{ env = "{token_env}" }}
seconds_between_requests = 0
concurrency = 4
ticket_projects = ["CHG"]
"""


def _config(directory: Path, aws_url: str, jira_url: str = "") -> str:
    return f"""# Written by `evidence demo`: a store in this folder, AWS simulated on 127.0.0.1.
[store]
index_url = "sqlite:///index.db"
blob_dir = "blobs"

[signing]
key_file = "signing.key"

[collector]
concurrency = 4
backoff_seconds = 0.2

[controls]
"DEMO-ACCESS-01" = ["CC6.1", "CC6.2", "CC6.3"]

[[connectors]]
type = "aws"
instance = "demo"
regions = ["us-east-1", "eu-west-1"]
accounts = [{{ role_arn = "arn:aws:iam::123456789012:role/EvidenceAgent" }},
            {{ role_arn = "arn:aws:iam::210987654321:role/EvidenceAgent" }}]
endpoint_url = "{aws_url}"
credential_report_wait_seconds = 30
""" + (f"""
[[connectors]]
type = "jira"
instance = "demo"
url = "{jira_url}"
email = "evidence-bot@acme.example"
api_token = {{ env = "EVIDENCE_DEMO_JIRA_TOKEN" }}
jql = "project = CHG"
approved_statuses = ["Approved"]
""" if jira_url else "")


def _gcp_config(url: str, key_file: Path) -> str:
    return f"""
[[connectors]]
type = "gcp"
instance = "demo"
organization = "organizations/100000000001"
credentials = {{ kind = "service_account_key", key = {{ file = "{key_file}" }} }}
allowed_domains = ["example.com"]
basic_role_members = ["group:gcp-admins@example.com"]
endpoint = "{url}"
rates = {{ cloudresourcemanager = 200 }}
"""


def start_gcp(stack: ExitStack, directory: Path) -> tuple[str, Path]:
    """Start the GCP simulator (a 12-project organization) and write a service-account key
    file it issued (0600) for the demo's connector to read by reference."""
    from simulators.gcp import GcpSimulator
    from simulators.gcp_world import generate_world

    sim = GcpSimulator(generate_world(12, now=datetime.now(UTC))).start()
    stack.callback(sim.stop)
    key_file = directory.resolve() / "gcp-demo-sa.json"
    key_file.touch(mode=0o600)
    key_file.write_text(json.dumps(sim.service_account_key_file(
        "evidence-agent@ops.iam.gserviceaccount.com")))
    return sim.url, key_file


def start_simulators(stack: ExitStack) -> dict[str, str]:
    """Start moto and the CloudTrail simulator, seed them, and return their URLs."""
    import logging

    for k, v in DEMO_ENV.items():
        os.environ.setdefault(k, v)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request log lines
    from moto.server import ThreadedMotoServer

    from simulators.aws_front import AwsFront
    from simulators.aws_seed import seed_demo_account, seed_demo_member_account
    from simulators.cloudtrail import iam_event

    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    stack.callback(moto.stop)
    host, port = moto.get_host_and_port()
    moto_url = f"http://{host}:{port}"
    sim = AwsFront(upstream=moto_url).start()
    stack.callback(sim.stop)
    sim.apply(seed_demo_account(moto_url))
    sim.apply(seed_demo_member_account(moto_url))
    from simulators.github_seed import start_demo as start_github
    from simulators.jira import JiraSimulator, tickets_for_changes

    gh, gh_token_env, seeded = start_github()
    stack.callback(gh.stop)
    # The tickets the seeded pull requests name (CHG-<k>), approved as the seed planned:
    # most before the merge, some after it or only by their assignee, some changes none.
    jira = JiraSimulator("cloud", tickets_for_changes(seeded.tickets,
                                                      until=datetime.now(UTC))).start()
    stack.callback(jira.stop)
    os.environ["EVIDENCE_DEMO_JIRA_TOKEN"] = jira.api_token
    now = datetime.now(UTC)
    sim.add_events([
        iam_event("CreateUser", now - timedelta(days=20), user="alice",
                  request_parameters={"userName": "new-contractor"}),
        iam_event("AttachUserPolicy", now - timedelta(days=19), user="alice",
                  request_parameters={"userName": "new-contractor",
                                      "policyArn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}),
        iam_event("CreateAccessKey", now - timedelta(days=5), user="bob",
                  request_parameters={"userName": "ci-deployer"}),
        iam_event("DeleteUser", now - timedelta(days=2), user="alice",
                  request_parameters={"userName": "departed-engineer"}),
        iam_event("PutRolePolicy", now - timedelta(hours=3), root=True,
                  request_parameters={"roleName": "ops-admin", "policyName": "inline-star"}),
    ])
    return {"moto": moto_url, "aws": sim.url, "jira": jira.url, "github": gh.url,
            "github_token_env": gh_token_env}


def start_okta(stack: ExitStack, directory: Path) -> str:
    """Start the Okta simulator with the demo org and a service app whose key is written to
    `directory`; returns its URL."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from simulators.okta import OktaSimulator, ServiceApp
    from simulators.okta_seed import demo_org

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    key_file = directory / "okta-demo-key.pem"
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_file.chmod(0o600)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    org = demo_org(datetime.now(UTC))
    os.environ.setdefault("OKTA_DEMO_API_TOKEN", OKTA_DEMO_TOKEN)
    sim = OktaSimulator(org, api_tokens={os.environ["OKTA_DEMO_API_TOKEN"]: org.users[0]["id"]},
                        apps=[ServiceApp(OKTA_DEMO_CLIENT, public.decode())]).start()
    stack.callback(sim.stop)
    return sim.url


def start_azure(stack: ExitStack) -> str:
    """Start the Azure simulator (Entra ID, ARM, Graph over HTTPS with a fresh self-signed
    certificate) and return the `azure` connector's config block for it."""
    from simulators.azure import AzureSimulator
    from simulators.azure_data import generate_tenant

    sim = AzureSimulator(generate_tenant(3), page_size=50).start()
    stack.callback(sim.stop)
    # The demo app's secret goes by reference, as in any real config.
    os.environ["EVIDENCE_DEMO_AZURE_SECRET"] = sim.client_secret
    return f"""
[[connectors]]
type = "azure"
instance = "demo"
tenant_id = "{sim.tenant_id}"
authority = "{sim.url}"
arm_endpoint = "{sim.url}"
graph_endpoint = "{sim.url}"
ca_bundle = "{sim.cert_path}"
break_glass = ["breakglass1@contoso.example"]
[connectors.credential]
kind = "client_secret"
client_id = "{sim.client_id}"
secret = {{ env = "EVIDENCE_DEMO_AZURE_SECRET" }}
"""


def run_demo(directory: Path, out: Any = None) -> int:
    """Run the demo into `directory`; returns the exit code."""
    from collector.config import load
    from collector.runner import Collector, Selection
    from storage.queries import as_of
    from storage.store import EvidenceStore
    from storage.verify import verify

    echo = out or (lambda s: click.echo(s))
    directory.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        echo("starting simulators: moto (AWS), CloudTrail, Okta, Azure, Jira, GitHub ...")
        urls = start_simulators(stack)
        okta_url = start_okta(stack, directory)
        echo("starting simulator: Google Cloud (12 projects) ...")
        gcp_url, gcp_key = start_gcp(stack, directory)
        cfg_path = directory / "evidence.toml"
        cfg_path.write_text(_config(directory, urls["aws"], urls.get("jira", "")) + _okta_config(
            okta_url, (directory / "okta-demo-key.pem").resolve())
            + start_azure(stack)
            + _github_config(urls["github"], urls["github_token_env"])
            + _gcp_config(gcp_url, gcp_key))
        echo(f"wrote {cfg_path}")
        cfg = load(cfg_path)
        store = EvidenceStore.open(cfg)

        def progress(o: Any, done: int, total: int) -> None:
            extra = f" - {o.error}" if o.error and o.status != "complete" else ""
            echo(f"  [{done}/{total}] {o.connector}/{o.instance} {o.snapshot}: {o.status}"
                 f" ({o.record_count} records){extra}")

        summary = Collector(cfg, store, progress=progress).run(Selection(), trigger="demo")
        echo(f"run {summary.run_id}: {summary.status}, sealed at #{summary.seal_seq}")
        now = datetime.now(UTC)
        by_control: dict[str, list[str]] = {}
        for spec_controls, rid, snap, verdict in _records(store, summary):
            for c in spec_controls:
                by_control.setdefault(c, []).append(f"{snap} {verdict} ({rid})")
        echo("\nevidence per control:")
        from collector.controls import criteria, criterion_sort_key

        for c in sorted(by_control, key=criterion_sort_key):
            n = len(as_of(store.engine, [c], now)["records"])
            echo(f"  {c} {criteria()[c]}: {n} records")
            for line in by_control[c]:
                echo(f"      {line}")
        _exception_and_alert(stack, cfg_path, store, echo)
        for o in summary.outcomes:
            if o.snapshot == "change_tickets":
                echo(f"\njira {o.instance} change_tickets: {o.record_count} tickets in "
                     f"{len(o.record_ids)} windows: " + ", ".join(
                         f"{v} {k}" for k, v in sorted(o.assessment.items())))
        gh_ends = [r["period_end"] for o in summary.outcomes if o.snapshot == "merged_changes"
                   for r in map(store.record, o.record_ids) if r and r["period_end"]]
        _join(store, max(gh_ends, default=now), echo)
        rep = verify(store)
        echo(f"\nverify: {rep.records} records, {rep.blobs} blobs, {rep.seals} seals: "
             + ("intact" if rep.ok else f"{len(rep.problems)} problems"))
        store.close()
        echo(f"\nnext: evidence -c {cfg_path} query --control CC6.1 --as-of now")
        echo("simulators stopped.")
        return 0 if rep.ok and summary.outcomes else 1


def _exception_and_alert(stack: ExitStack, cfg_path: Path, store: Any, echo: Any) -> None:
    """Declare one exception (a demo user without MFA) and deliver a signed alert to a
    webhook receiver the demo runs itself."""
    import hashlib
    import hmac
    import json
    import secrets
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from collector.config import load
    from fieldwork import exceptions as exc
    from fieldwork.alerts import deliver, test_payload
    from storage.queries import newest_record_of

    echo("\nexceptions and alerts:")
    victim = None
    for snap in ("iam_credential_report", "iam_users", "iam_users_mfa"):
        r = newest_record_of(store.engine, "aws", "demo", snap)
        if r is None or not r["findings_sha256"]:
            continue
        victim = next((f for f in store.blob_json(r["findings_sha256"])
                       if f["status"] == "fail" and "mfa" in f["reason"].lower()), None)
        if victim is not None:
            e = exc.add(store, series=f"aws/demo:{snap}", resource=victim["resource"],
                        reason="demo break-glass user, credentials kept in the safe",
                        approved_by="demo CISO", ticket="SEC-DEMO-1",
                        expires_at=store.clock() + timedelta(days=90), who="evidence demo")
            echo(f"  exception {e.id}: {snap} {victim['resource']!r} ({victim['reason']}) "
                 f"excepted until {e.to_json()['expires_at'][:10]}, approved by demo CISO")
            break
    if victim is None:
        echo("  (no failing MFA finding to except)")
    key = secrets.token_hex(16)
    got: list[bool] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            ts = self.headers.get("X-Evidence-Timestamp", "")
            want = "sha256=" + hmac.new(key.encode(), ts.encode() + b"." + body,
                                        hashlib.sha256).hexdigest()
            got.append(hmac.compare_digest(want, self.headers.get("X-Evidence-Signature", ""))
                       and json.loads(body)["event"] == "evidence.drift")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack.callback(server.shutdown)
    os.environ["EVIDENCE_DEMO_WEBHOOK_SECRET"] = key
    url = f"http://127.0.0.1:{server.server_address[1]}/evidence-alerts"
    with cfg_path.open("a") as f:
        f.write(f'\n[[alerts]]\nname = "demo-webhook"\ntype = "webhook"\nurl = "{url}"\n'
                'hmac_secret = { env = "EVIDENCE_DEMO_WEBHOOK_SECRET" }\n')
    sink = load(cfg_path).alerts[0]
    ok, _, err = deliver(sink, test_payload(), store)
    echo(f"  alert sink demo-webhook: {'delivered' if ok else 'FAILED: ' + str(err)}; the "
         f"demo's receiver {'verified the HMAC signature' if got and got[0] else 'got nothing'}")
def _join(store: Any, until: datetime, echo: Any) -> None:
    """Join GitHub merges to Jira approvals over the 60 days up to the end of the GitHub
    window just collected, when both were collected; show one failure of each kind."""
    from collector.errors import ConfigError
    from fieldwork.changes import derive

    try:
        row = derive(store, until - timedelta(days=60), until)
    except ConfigError as e:
        echo(f"\nchanges across platforms: not joined ({e})")
        return
    content = store.blob_json(row["content_sha256"])
    verdict = ", ".join(f"{v} {k}" for k, v in sorted(row["assessment"].items()))
    echo(f"\nchanges across platforms (CC8.1): {len(content['changes'])} merged changes "
         f"joined to Jira tickets: {verdict} ({row['id']}, {row['status']})")
    kinds = {"no ticket": "", "after the merge": "", "only by its assignee": "",
             "review": ""}
    for c in content["changes"]:
        if c["verdict"] == "pass":
            continue
        kind = next((k for k in kinds if k in c["ticket_reason"]),
                    "review" if c["ticket_verdict"] == "pass" else None)
        if kind is not None and not kinds[kind]:
            kinds[kind] = f"      {c['verdict']} {c['id']}: {c['reason']}"
    for line in kinds.values():
        if line:
            echo(line)


def _records(store: Any, summary: Any) -> list[tuple[list[str], str, str, str]]:
    out = []
    for o in summary.outcomes:
        for rid in o.record_ids[-1:]:
            r = store.record(rid)
            if r is None:
                continue
            verdict = ", ".join(f"{v} {k}" for k, v in sorted(r["assessment"].items())) \
                or r["status"]
            out.append((list(r["controls"]), rid, f"{o.instance}/{o.snapshot}", verdict))
    return out


if __name__ == "__main__":
    sys.exit(run_demo(Path(sys.argv[1] if len(sys.argv) > 1 else "evidence-demo")))
