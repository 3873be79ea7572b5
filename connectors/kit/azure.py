"""Recording for azure-core pipelines (azure-mgmt-* clients, a PipelineClient for Graph): a
policy placed among the per-retry policies sees every attempt, so azure-core's own retries
(which honour Retry-After) are observed and recorded, and `ItemPaged`'s nextLink pages fold
into one call.

    client = StorageManagementClient(cred, sub, base_url=url,
                                     per_retry_policies=[RecordingPolicy(recorder, target=sub)])
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import HTTPPolicy

from connectors.kit.http import count_items, describe
from connectors.kit.record import CallRecorder
from connectors.kit.redact import guard_loggers

_CALL = "evidence_call"


class RecordingPolicy(HTTPPolicy):  # type: ignore[type-arg]
    """Records each attempt: the first of a request starts or continues a call, later ones
    (azure-core's retries of the same request) are counted as retries of it."""

    def __init__(self, recorder: CallRecorder, *, target: str | None = None) -> None:
        super().__init__()
        guard_loggers()
        self.recorder = recorder
        self.target = target

    def send(self, request: PipelineRequest) -> PipelineResponse:  # type: ignore[type-arg]
        op, params = describe(request.http_request.method, request.http_request.url)
        prior = request.context.get(_CALL)
        try:
            response = self.next.send(request)
        except Exception as e:
            if prior is not None:
                self.recorder.retry_of(prior, status=None, ok=False, error=type(e).__name__)
            else:
                request.context[_CALL] = self.recorder.record(
                    op, params, target=self.target, ok=False, error=type(e).__name__)
            raise
        status = response.http_response.status_code
        self.recorder.saw_date(response.http_response.headers.get("Date"))
        ok = status < 400
        items = total = None
        if ok and "json" in (response.http_response.headers.get("Content-Type") or ""):
            with contextlib.suppress(ValueError):
                body: Any = json.loads(response.http_response.body() or b"null")
                items, total = count_items(body)
        error = None if ok else f"HTTP {status}"
        if prior is not None:
            self.recorder.retry_of(prior, status=status, ok=ok, error=error, items=items,
                                   total=total)
        else:
            request.context[_CALL] = self.recorder.record(
                op, params, target=self.target, status=status, ok=ok, error=error, items=items,
                total=total)
        return response
