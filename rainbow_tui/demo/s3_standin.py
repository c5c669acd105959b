"""A local stand-in of S3 for the image bucket: HEAD (and GET) of a bucket or object.

S3 is SaaS: this answers path-style requests (``/<bucket>`` and ``/<bucket>/<key>``)
as S3 does (docs.aws.amazon.com, HeadObject / HeadBucket / Error responses):

* 200 with ``ETag`` (the object's MD5 in quotes), ``Content-Length``,
  ``Content-Type``, ``Last-Modified``, ``Accept-Ranges``; a bucket's HEAD with
  ``x-amz-bucket-region``;
* 403 AccessDenied for a request without SigV4 credentials or from a key that
  may not read the bucket, 403 InvalidAccessKeyId for an unknown key;
* 404 NoSuchKey, 404 NoSuchBucket.

Errors carry S3's XML body on GET and no body on HEAD (as S3 answers), and every
answer its ``x-amz-request-id`` / ``x-amz-id-2``.  Signatures are not verified:
the stand-in checks who signed (the access key id of the ``Credential``), which is
what decides 403 against 200 in the demo.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

from rainbow_tui.demo.local_http import LocalHTTPServer, QuietHandler

BUCKET = "shiojiri-rainbow-images"
REGION = "ap-northeast-1"
PROBE_KEY = "health/probe.webp"
# The stand-in's own credentials (not secrets): the demo console reads with them.
ACCESS_KEY_ID = "AKIADEMORAINBOW00001"
SECRET_ACCESS_KEY = "demo/rainbow/seeker/stand-in/secret/0000"


@dataclass
class _Object:
    body: bytes
    content_type: str
    modified: float

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.body, usedforsecurity=False).hexdigest()}"'


@dataclass
class S3StandIn:
    region: str = REGION
    # Access key id → secret; only these sign requests S3 knows.
    keys: dict[str, str] = field(default_factory=lambda: {ACCESS_KEY_ID: SECRET_ACCESS_KEY})
    # Known keys that the bucket policy does not let read (AccessDenied).
    denied_keys: set[str] = field(default_factory=set)
    buckets: dict[str, dict[str, _Object]] = field(default_factory=dict)
    requests: list[tuple[str, str, str]] = field(default_factory=list)  # method, path, key id
    _http: LocalHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def put(self, bucket: str, key: str, body: bytes, content_type: str = "image/webp") -> None:
        with self._lock:
            self.buckets.setdefault(bucket, {})[key] = _Object(body, content_type, time.time())

    def delete(self, bucket: str, key: str) -> None:
        with self._lock:
            self.buckets.get(bucket, {}).pop(key, None)

    def endpoint_url(self) -> str:
        assert self._http is not None
        return self._http.base_url()

    def answer(self, method: str, path: str, authorization: str
               ) -> tuple[int, dict[str, str], bytes, str]:
        """(status, headers, body, error code) of one request."""
        key_id = _access_key_id(authorization)
        parts = unquote(path).lstrip("/").split("/", 1)
        bucket, key = parts[0], parts[1] if len(parts) > 1 else ""
        with self._lock:
            self.requests.append((method, path, key_id))
            if not key_id:
                return 403, {}, b"", "AccessDenied"
            if key_id not in self.keys:
                return 403, {}, b"", "InvalidAccessKeyId"
            if key_id in self.denied_keys:
                return 403, {}, b"", "AccessDenied"
            objects = self.buckets.get(bucket)
            if objects is None:
                return 404, {}, b"", "NoSuchBucket"
            if not key:
                return 200, {"x-amz-bucket-region": self.region}, b"", ""
            found = objects.get(key)
            if found is None:
                return 404, {}, b"", "NoSuchKey"
            return 200, {
                "ETag": found.etag,
                "Content-Type": found.content_type,
                "Last-Modified": formatdate(found.modified, usegmt=True),
                "Accept-Ranges": "bytes",
            }, found.body, ""

    def start(self) -> str:
        stand_in = self

        class Handler(QuietHandler):
            server_version = "AmazonS3"
            log = logging.getLogger(__name__)

            def _reply(self) -> None:
                # A PUT's or POST's body is read and dropped: the stand-in is read-only.
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                path = urlsplit(self.path).path
                status, headers, body, code = stand_in.answer(
                    self.command if self.command in ("HEAD", "GET") else "GET", path,
                    self.headers.get("Authorization", ""))
                request_id = secrets.token_hex(8).upper()
                if code:
                    body = _error_xml(code, path, request_id)
                    headers = {"Content-Type": "application/xml"}
                self.send_response(status)
                self.send_header("x-amz-request-id", request_id)
                self.send_header("x-amz-id-2", base64.b64encode(secrets.token_bytes(48)).decode())
                self.send_header("Date", formatdate(usegmt=True))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_HEAD = _reply
            do_GET = _reply

        self._http = LocalHTTPServer(Handler, "demo-s3")
        return self._http.start()

    def stop(self) -> None:
        if self._http is not None:
            self._http.stop()


def _access_key_id(authorization: str) -> str:
    """The key id of ``AWS4-HMAC-SHA256 Credential=<id>/<date>/<region>/s3/aws4_request, …``."""
    scheme, _, rest = authorization.partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        return ""
    for part in rest.split(","):
        name, _, value = part.strip().partition("=")
        if name == "Credential":
            return value.split("/", 1)[0]
    return ""


_MESSAGES = {
    "AccessDenied": "Access Denied",
    "InvalidAccessKeyId": "The AWS Access Key Id you provided does not exist in our records.",
    "NoSuchBucket": "The specified bucket does not exist",
    "NoSuchKey": "The specified key does not exist.",
}


def _error_xml(code: str, resource: str, request_id: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{_MESSAGES[code]}</Message>"
        f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId></Error>"
    ).encode()


def demo_bucket() -> S3StandIn:
    """The image bucket with the probe object the demo console HEADs."""
    stand_in = S3StandIn()
    # A tiny WebP's header: the probe is an image like the bucket's others.
    stand_in.put(BUCKET, PROBE_KEY, b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00"
                 b"\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00")
    return stand_in
