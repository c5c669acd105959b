"""The image bucket's check: botocore's HEAD against the S3 stand-in over real HTTP
on 127.0.0.1 (200 with ETag and Content-Length, 403 AccessDenied, 404 NoSuchKey /
NoSuchBucket, as S3's HeadObject and HeadBucket answer), credentials from the
standard AWS variables."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rainbow_tui.config import Config, ConfigError, S3Config, ServiceConfig, parse_config
from rainbow_tui.demo.s3_standin import ACCESS_KEY_ID, BUCKET, PROBE_KEY, S3StandIn, demo_bucket
from rainbow_tui.findings import Finding, evaluate
from rainbow_tui.levels import Level
from rainbow_tui.sources.s3_bucket import S3BucketSource
from rainbow_tui.sources.service_sources import Readings


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> Iterator[S3StandIn]:
    # The AWS chain of this test only: no developer's ~/.aws changes a result.
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    stand_in = demo_bucket()
    stand_in.start()
    try:
        yield stand_in
    finally:
        stand_in.stop()


async def _judged(stand_in: S3StandIn, bucket: str = BUCKET, key: str = PROBE_KEY,
                  endpoint: str = "") -> Finding:
    settings = S3Config(bucket=bucket, endpoint_url=endpoint or stand_in.endpoint_url(),
                        probe_key=key, timeout_s=5.0)
    source = S3BucketSource(settings)
    try:
        snapshot = await source.poll()
    finally:
        await source.close()
    config = Config(service=ServiceConfig(kamal_service="api", health_url="http://x/up"),
                    s3=settings)
    return next(f for f in evaluate(config, Readings(s3=snapshot)) if f.component == "s3")


async def test_a_reachable_object_is_normal_with_its_etag(bucket: S3StandIn) -> None:
    finding = await _judged(bucket)
    assert finding.level is Level.NORMAL
    assert finding.display.startswith("reachable, ")
    stored = bucket.buckets[BUCKET][PROBE_KEY]
    assert f"ETag {stored.etag.strip(chr(34))}" in finding.reason
    assert f"{len(stored.body)} bytes" in finding.reason
    # One signed HEAD of the object, with the key id from the environment.
    assert bucket.requests == [("HEAD", f"/{BUCKET}/{PROBE_KEY}", ACCESS_KEY_ID)]


async def test_the_bucket_itself_when_no_probe_key(bucket: S3StandIn) -> None:
    finding = await _judged(bucket, key="")
    assert finding.level is Level.NORMAL
    assert bucket.requests == [("HEAD", f"/{BUCKET}", ACCESS_KEY_ID)]


async def test_access_denied_is_a_warning_about_credentials(bucket: S3StandIn) -> None:
    bucket.denied_keys.add(ACCESS_KEY_ID)
    finding = await _judged(bucket)
    assert finding.level is Level.WARNING and finding.severity == "medium"
    assert finding.display == "access denied (HTTP 403)"
    assert "AWS_ACCESS_KEY_ID" in finding.reason


async def test_no_credentials_at_all(bucket: S3StandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    finding = await _judged(bucket)
    assert finding.level is Level.WARNING and finding.display == "no credentials"
    assert bucket.requests == []


async def test_a_missing_object_or_bucket_is_critical(bucket: S3StandIn) -> None:
    bucket.delete(BUCKET, PROBE_KEY)
    missing_key = await _judged(bucket)
    assert missing_key.level is Level.CRITICAL and missing_key.display == "no such object"
    missing_bucket = await _judged(bucket, bucket="another-bucket")
    assert missing_bucket.level is Level.CRITICAL and missing_bucket.display == "no such bucket"
    # A 404 of the object is told apart by the bucket's own HEAD.
    assert ("HEAD", "/another-bucket", ACCESS_KEY_ID) in bucket.requests


async def test_an_unreachable_endpoint_is_critical(bucket: S3StandIn) -> None:
    finding = await _judged(bucket, endpoint="http://127.0.0.1:9")
    assert finding.level is Level.CRITICAL and finding.display == "unreachable"
    assert "127.0.0.1:9" in finding.reason


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ('[s3]\nbucket = "Images_Bucket"\n', "s3.bucket"),
        ('[s3]\nbucket = "images"\nregion = "tokyo"\n', "s3.region"),
        ('[s3]\nbucket = "images"\nendpoint_url = "minio:9000"\n', "s3.endpoint_url"),
        ('[s3]\nbucket = "images"\naccess_key = "AKIA"\n', "s3.access_key"),
    ],
)
def test_s3_config_is_validated(section: str, key: str) -> None:
    base = '[service]\nkamal_service = "api"\nhealth_url = "https://api.example.com/up"\n'
    with pytest.raises(ConfigError) as raised:
        parse_config(base + section, "config.toml")
    assert raised.value.key == key
