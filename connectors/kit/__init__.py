"""The connector kit: what makes a record auditor-grade, written once for every connector.
A library the platform connectors import, not a connector itself (nothing registers it,
and it has no simulator: the connectors' simulators exercise it).

    recording   CallRecorder folds each HTTP exchange into one provenance call per logical
                call (operation, parameters, status, pages, items, retries, the API's total);
                transports feed it: http.record_session (requests: PyGithub, jira,
                google-auth), boto.instrument (botocore), azure.RecordingPolicy (azure-core),
                aio.session (aiohttp: okta). Secrets are redacted (redact.py).
    paging      paginate / link_pages / cursor_pages / offset_pages / next_link_pages / drain:
                count pages, stop on a repeated cursor, mark the record cut short (partial)
                when a later page fails after its retries.
    retry       Retrier (tenacity) per call: 429, 5xx, connection resets; Retry-After and
                x-ratelimit-reset honoured; one RetryBudget of seconds per run.
    fan-out     FanOut.each over scopes (accounts, orgs, projects, subscriptions): bounded
                threads, an unreadable scope recorded by name, the rest go on.
    testing     conformance.py: the checks every connector's tests run against its simulator.

A connector on a requests-based SDK (here jira) is then only its calls and its content:

    class JiraConfig(ConnectorConfig):
        url: str
        token: SecretRef                          # secrets only by { env } / { file }
        retry_budget_seconds: float = 120.0

    class Jira(Connector[JiraConfig]):            # self.config is a JiraConfig, no casts
        name = "jira"

        def _session(self, ctx: SnapshotContext) -> requests.Session:
            rec = CallRecorder(ctx.ipe)
            retrier = http.new_retrier(RetryPolicy(budget_seconds=self.config.retry_budget_seconds))
            s = http.record_session(requests.Session(), rec, retrier, target=self.config.url)
            s.headers["Authorization"] = f"Bearer {resolve_secret(self.config.token)}"
            return s

        @snapshot(controls=["CC8.1"], kind="population", max_age=DAY, example=EXAMPLE,
                  permissions=["jira:browse-projects"], items=change_items)
        def resolved_changes(self, ctx: SnapshotContext) -> SnapshotResult:
            \"\"\"Every change ticket resolved in the period: the population to sample.\"\"\"
            s = self._session(ctx)
            issues = [i for page in offset_pages(s, f"{self.config.url}/rest/api/2/search",
                                                 {"jql": jql(ctx)}, ipe=ctx.ipe,
                                                 items_field="issues")
                      for i in page.json()["issues"]]
            return SnapshotResult({"issues": issues}, len(issues))

With an SDK instead of a bare session, mount the adapter on the SDK's own session
(`record_session(jira_client._session, ...)`, `AuthorizedSession` is a Session). Over several
scopes, `FanOut(ctx.ipe, ctx.log, workers=8).each(fn, projects, lambda p: {"project": p})`.
"""

from connectors.kit.fanout import FanOut
from connectors.kit.paging import (
    cursor_pages,
    drain,
    link_pages,
    next_link_pages,
    offset_pages,
    paginate,
)
from connectors.kit.record import PAGE_PARAMS, CallRecorder, split_cursor
from connectors.kit.redact import (
    REDACTED,
    RedactingFilter,
    guard_loggers,
    redact_headers,
    redact_params,
    redact_text,
    redact_url,
)
from connectors.kit.retry import (
    RETRY_STATUSES,
    Again,
    Retrier,
    RetryBudget,
    RetryPolicy,
    retry_after,
    status_again,
)

__all__ = [
    "PAGE_PARAMS", "REDACTED", "RETRY_STATUSES", "Again", "CallRecorder", "FanOut",
    "RedactingFilter", "Retrier", "RetryBudget", "RetryPolicy", "cursor_pages", "drain",
    "guard_loggers", "link_pages", "next_link_pages", "offset_pages", "paginate",
    "redact_headers", "redact_params", "redact_text", "redact_url", "retry_after",
    "split_cursor", "status_again",
]
