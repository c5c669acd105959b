"""The image bucket: one HEAD of the probe object (or of the bucket) per poll.

botocore signs and sends the request (the optional ``s3`` extra: it is heavy, so
imported on the first poll and its client kept); credentials come from the
standard AWS chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, …).
botocore is synchronous: each HEAD runs in a worker thread under the poll's
deadline.

S3 answers a HEAD without a body, so its error is the status alone: 403 (access
denied: the credentials or the policy), 404 (no such key, or no such bucket: a
HEAD of the bucket tells which), 301 (the bucket lives in another region).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from rainbow_tui.config import S3Config

# What the HEAD found, for the findings: "ok", "denied" (403), "no_key",
# "no_bucket", "no_credentials", "unreachable", "timeout", "http" (another
# status), "unavailable" (botocore is not installed).
S3Outcome = Literal[
    "ok", "denied", "no_key", "no_bucket", "no_credentials", "unreachable", "timeout", "http",
    "unavailable",
]


@dataclass(frozen=True, slots=True)
class S3Snapshot:
    taken_at: datetime
    bucket: str
    key: str  # the probe object; empty: the bucket itself
    outcome: S3Outcome
    status: int | None = None
    etag: str = ""
    content_length: int | None = None
    latency_ms: float | None = None
    error: str = ""

    @property
    def target(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.key else f"s3://{self.bucket}"


@dataclass(frozen=True, slots=True)
class _Head:
    status: int
    headers: dict[str, str]


class S3BucketSource:
    def __init__(self, config: S3Config) -> None:
        self.config = config
        self._client: Any = None

    def _make_client(self) -> Any:
        import botocore.config
        import botocore.session

        config = self.config
        options: dict[str, Any] = {
            "connect_timeout": config.timeout_s,
            "read_timeout": config.timeout_s,
            # One try: a retry would hide a flapping bucket, and the monitor polls again.
            "retries": {"total_max_attempts": 1},
        }
        if config.endpoint_url:
            # S3-compatible servers answer path-style requests (no bucket DNS names).
            options["s3"] = {"addressing_style": "path"}
        session = botocore.session.get_session()
        return session.create_client(
            "s3",
            region_name=config.region,
            endpoint_url=config.endpoint_url or None,
            config=botocore.config.Config(**options),
        )

    def _head(self, key: str) -> _Head:
        """HEAD the key (or the bucket); S3's answer whatever its status."""
        from botocore.exceptions import ClientError

        assert self._client is not None
        try:
            if key:
                answer = self._client.head_object(Bucket=self.config.bucket, Key=key)
            else:
                answer = self._client.head_bucket(Bucket=self.config.bucket)
        except ClientError as error:
            answer = error.response
        metadata = answer.get("ResponseMetadata", {})
        return _Head(int(metadata.get("HTTPStatusCode", 0)),
                     {k.lower(): str(v) for k, v in metadata.get("HTTPHeaders", {}).items()})

    async def poll(self) -> S3Snapshot:
        taken_at = datetime.now(UTC)
        config = self.config
        key = config.probe_key

        def snapshot(outcome: S3Outcome, **fields: Any) -> S3Snapshot:
            return S3Snapshot(taken_at, config.bucket, key, outcome, **fields)

        try:
            import botocore.exceptions as failures
        except ImportError:
            return snapshot("unavailable", error="botocore is not installed")
        bucket_missing = False
        started = time.perf_counter()
        try:
            async with asyncio.timeout(config.timeout_s):
                if self._client is None:
                    # Loading botocore's S3 model takes a while: not part of the latency.
                    self._client = await asyncio.to_thread(self._make_client)
                    started = time.perf_counter()
                head = await asyncio.to_thread(self._head, key)
                if head.status == 404 and key:
                    # NoSuchKey or NoSuchBucket: the bucket's own HEAD says which.
                    bucket = await asyncio.to_thread(self._head, "")
                    bucket_missing = bucket.status == 404
        except TimeoutError:
            return snapshot("timeout", error=f"no answer within {config.timeout_s:g} s")
        except failures.NoCredentialsError:
            return snapshot("no_credentials", error="no AWS credentials found")
        except (failures.ConnectTimeoutError, failures.ReadTimeoutError) as error:
            return snapshot("timeout", error=str(error))
        except (failures.EndpointConnectionError, failures.ConnectionError) as error:
            return snapshot("unreachable", error=str(error))
        except failures.BotoCoreError as error:
            return snapshot("http", error=str(error))
        latency = (time.perf_counter() - started) * 1000
        status = head.status
        if status == 200:
            length = head.headers.get("content-length")
            return snapshot("ok", status=200, etag=head.headers.get("etag", "").strip('"'),
                            content_length=int(length) if key and length and length.isdigit()
                            else None,
                            latency_ms=latency)
        outcome: S3Outcome
        if status == 403:
            outcome = "denied"
        elif status == 404:
            outcome = "no_bucket" if bucket_missing or not key else "no_key"
        else:
            outcome = "http"
        return S3Snapshot(taken_at, config.bucket, key, outcome, status=status,
                          latency_ms=latency, error=f"HTTP {status}")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)
