"""Media uploads stored like Paperclip stores them for upstream (local disk or S3).

Upstream facts (1440d55b unless said otherwise):
- Path `:prefix_url:class/:attachment/:id_partition/:style/:filename`
  (config/initializers/paperclip.rb l.6); for a local upload the prefix is empty (l.24-30),
  so the original is `media_attachments/files/000/000/001/original/<name>`.
  `:id_partition` is kt-paperclip's (7.3.0, Gemfile.lock l.394): the id zero-padded to 9
  digits and cut into groups of three (longer ids simply give more groups).
- The stored name is 16 random hex characters plus the upload's extension
  (Attachmentable#obfuscate_file_name, app/models/concerns/attachmentable.rb l.83-87).
- S3 (S3_ENABLED=true, l.38-117): S3_REGION (default us-east-1, l.41), S3_PROTOCOL
  (https, l.42), S3_HOSTNAME (s3-REGION.amazonaws.com, l.43), S3_KEY_PREFIX prepended with
  '/' (l.45), S3_PERMISSION as the object ACL (default public-read, l.57; empty = none,
  l.75), S3_BUCKET, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (l.60-64), signature v4
  (l.67), 5 s timeouts and no retries (l.68-71), `Cache-Control: public,
  max-age=315576000, immutable` (l.54), S3_STORAGE_CLASS (l.93). S3_ENDPOINT sends the
  requests there, path-style unless S3_OVERRIDE_PATH_STYLE=true (l.77-84).
- URL: `S3_PROTOCOL://S3_ALIAS_HOST/key` with an alias (`:s3_alias_url`, l.86-91),
  otherwise `:s3_path_url` = `S3_PROTOCOL://S3_HOSTNAME/BUCKET/key` (kt-paperclip's
  interpolation; note it uses S3_HOSTNAME, not S3_ENDPOINT, exactly as upstream does).
- Local (l.162-168): files under PAPERCLIP_ROOT_PATH (default public/system in the app
  root), URL PAPERCLIP_ROOT_URL (/system) + '/' + path, made absolute against CDN_HOST or
  https://WEB_DOMAIN (RoutingHelper#full_asset_url, app/helpers/routing_helper.rb l.17-40).
- Accepted types: MediaAttachment::IMAGE_MIME_TYPES, VIDEO_ and AUDIO_ (app/models/
  media_attachment.rb l.65-68, validated l.194), size below 16 MB for images and 99 MB
  for video and audio (l.46-47, l.195). The stand-in recognises png, jpeg, gif and webp
  by their magic bytes and mp4/webm/ogg/mp3/wav by extension; it does no transcoding,
  so every upload is complete at once (processing = complete, set_processing l.368-370).
"""

from __future__ import annotations

import datetime
import hashlib
import hmac
import http.client
import mimetypes
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

IMAGE_LIMIT = 16 * 1024 * 1024
VIDEO_LIMIT = 99 * 1024 * 1024
# MediaAttachment's type enum (app/models/media_attachment.rb l.38).
TYPES = {"image": 0, "gifv": 1, "video": 2, "unknown": 3, "audio": 4}
TYPE_NAMES = {value: name for name, value in TYPES.items()}
VIDEO_TYPES = {"video/webm", "video/mp4", "video/quicktime", "video/ogg"}
AUDIO_TYPES = {"audio/mpeg", "audio/ogg", "audio/wav", "audio/x-wav", "audio/flac",
               "audio/aac", "audio/mp4", "audio/webm"}
S3_CACHE_CONTROL = "public, max-age=315576000, immutable"


class StorageError(Exception):
    """The object store refused the write (HTTP error): upstream answers 500."""


class StorageUnavailableError(Exception):
    """The object store cannot be reached: upstream's Seahorse::Client::NetworkingError,
    answered 503 by Api::ErrorHandling (app/controllers/concerns/api/error_handling.rb
    l.35-38)."""


@dataclass
class Upload:
    filename: str
    content_type: str
    data: bytes


def parse_multipart(content_type: str, body: bytes) -> dict[str, Upload | str]:
    """multipart/form-data fields: files as Upload, other fields as text."""
    boundary = ""
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "boundary":
            boundary = value.strip('"')
    if not boundary:
        raise ValueError("multipart body without boundary")
    fields: dict[str, Upload | str] = {}
    delimiter = b"--" + boundary.encode()
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        chunk = chunk.removeprefix(b"\r\n")
        head, sep, data = chunk.partition(b"\r\n\r\n")
        if not sep:
            continue
        data = data.removesuffix(b"\r\n")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = _params(headers.get("content-disposition", ""))
        field = disposition.get("name")
        if not field:
            continue
        if "filename" in disposition:
            fields[field] = Upload(disposition["filename"],
                                  headers.get("content-type", "application/octet-stream"),
                                  data)
        else:
            fields[field] = data.decode("utf-8", "replace")
    return fields


def _params(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        out[key.strip().lower()] = value.strip().strip('"')
    return out


def sniff(upload: Upload) -> str | None:
    """The content type from the bytes (images) or the extension (audio/video)."""
    data = upload.data
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    guessed = mimetypes.guess_type(upload.filename)[0]
    if guessed in VIDEO_TYPES or guessed in AUDIO_TYPES:
        return guessed
    return None


def media_type(content_type: str) -> str:
    # Upstream turns animated GIFs into gifv with FFmpeg; without transcoding a GIF stays
    # an image here.
    if content_type in VIDEO_TYPES:
        return "video"
    if content_type in AUDIO_TYPES:
        return "audio"
    return "image"


def validate(upload: Upload | None) -> tuple[str | None, str | None]:
    """(content type, None) or (None, validation message) like ActiveRecord's errors."""
    if upload is None or not upload.data:
        return None, "Validation failed: File can't be blank"
    content_type = sniff(upload)
    if content_type is None:
        return None, ("Validation failed: File content type is invalid, File is invalid")
    limit = IMAGE_LIMIT if content_type.startswith("image/") else VIDEO_LIMIT
    if len(upload.data) >= limit:
        return None, (f"Validation failed: File file size must be less than "
                      f"{limit // (1024 * 1024)} MB")
    return content_type, None


def id_partition(media_id: int) -> str:
    digits = f"{media_id:09d}"
    return "/".join(digits[i:i + 3] for i in range(0, len(digits), 3))


def stored_name(original: str) -> str:
    suffix = Path(original).suffix.lower()
    return secrets.token_hex(8) + (suffix if suffix.isascii() else "")


def relative_path(media_id: int, file_name: str, style: str = "original") -> str:
    return f"media_attachments/files/{id_partition(media_id)}/{style}/{file_name}"


class Storage:
    def __init__(self, root: Path, environ: dict[str, str]) -> None:
        self.root = root
        self.env = environ
        self.s3 = environ.get("S3_ENABLED", "") == "true"
        self.region = environ.get("S3_REGION") or "us-east-1"
        self.protocol = environ.get("S3_PROTOCOL") or "https"
        self.hostname = environ.get("S3_HOSTNAME") or f"s3-{self.region}.amazonaws.com"
        self.bucket = environ.get("S3_BUCKET", "")

    # -- keys and URLs -----------------------------------------------------------------
    def key(self, media_id: int, file_name: str) -> str:
        path = relative_path(media_id, file_name)
        if self.s3 and "S3_KEY_PREFIX" in self.env:
            return f"{self.env['S3_KEY_PREFIX']}/{path}"
        return path

    def url(self, media_id: int, file_name: str) -> str:
        key = quote(self.key(media_id, file_name))
        if self.s3:
            if "S3_ALIAS_HOST" in self.env or "S3_CLOUDFRONT_HOST" in self.env:
                alias = self.env.get("S3_ALIAS_HOST") or self.env.get("S3_CLOUDFRONT_HOST")
                return f"{self.protocol}://{alias}/{key}"
            return f"{self.protocol}://{self.hostname}/{self.bucket}/{key}"
        base = (self.env.get("PAPERCLIP_ROOT_URL") or "/system").rstrip("/")
        host = self.env.get("CDN_HOST") or \
            f"https://{self.env.get('WEB_DOMAIN') or self.env['LOCAL_DOMAIN']}"
        return f"{host.rstrip('/')}{base}/{key}"

    def local_root(self) -> Path:
        configured = self.env.get("PAPERCLIP_ROOT_PATH", "")
        if not configured:
            return self.root / "public" / "system"
        return Path(configured.replace(":rails_root", str(self.root)))

    # -- writes ------------------------------------------------------------------------
    def save(self, media_id: int, file_name: str, content_type: str, data: bytes) -> None:
        if self.s3:
            self._s3_put(self.key(media_id, file_name), content_type, data)
            return
        target = self.local_root() / self.key(media_id, file_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        partial.write_bytes(data)
        partial.replace(target)

    def delete(self, media_id: int, file_name: str) -> None:
        if not self.s3:
            (self.local_root() / self.key(media_id, file_name)).unlink(missing_ok=True)

    def _s3_put(self, key: str, content_type: str, data: bytes) -> None:
        endpoint = self.env.get("S3_ENDPOINT") or f"https://s3.{self.region}.amazonaws.com"
        parts = urlsplit(endpoint)
        host = parts.netloc
        base_path = parts.path.rstrip("/")
        if self.env.get("S3_ENDPOINT") and self.env.get("S3_OVERRIDE_PATH_STYLE") != "true":
            path = f"{base_path}/{self.bucket}/{key}"
        else:
            host = f"{self.bucket}.{host}"
            path = f"{base_path}/{key}"
        headers = {"Content-Type": content_type, "Cache-Control": S3_CACHE_CONTROL}
        permission = self.env.get("S3_PERMISSION", "public-read")
        if permission:  # an empty S3_PERMISSION sends no ACL (paperclip.rb l.75)
            headers["x-amz-acl"] = permission
        if self.env.get("S3_STORAGE_CLASS"):
            headers["x-amz-storage-class"] = self.env["S3_STORAGE_CLASS"]
        signed = sign_v4("PUT", host, quote(path), headers, data, self.region,
                         self.env.get("AWS_ACCESS_KEY_ID", ""),
                         self.env.get("AWS_SECRET_ACCESS_KEY", ""))
        timeout = float(self.env.get("S3_OPEN_TIMEOUT") or 5)
        connection_class: Any = (http.client.HTTPSConnection if parts.scheme == "https"
                                 else http.client.HTTPConnection)
        connection = connection_class(host, timeout=timeout)
        try:
            connection.request("PUT", quote(path), body=data, headers=signed)
            answer = connection.getresponse()
            detail = answer.read()[:500].decode("utf-8", "replace")
        except OSError as error:
            raise StorageUnavailableError(f"{endpoint}: {error}") from error
        finally:
            connection.close()
        if answer.status >= 300:
            raise StorageError(f"S3 PUT {key}: HTTP {answer.status}: {detail}")


def sign_v4(method: str, host: str, path: str, headers: dict[str, str], body: bytes,
            region: str, access_key: str, secret_key: str,
            when: datetime.datetime | None = None) -> dict[str, str]:
    """AWS Signature Version 4 (service s3): the request headers with Authorization."""
    moment = when or datetime.datetime.now(datetime.UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = moment.strftime("%Y%m%d")
    payload_hash = hashlib.sha256(body).hexdigest()
    all_headers = {**headers, "Host": host, "x-amz-date": amz_date,
                   "x-amz-content-sha256": payload_hash}
    canonical = {key.lower(): " ".join(str(value).split()) for key, value in all_headers.items()}
    names = sorted(canonical)
    canonical_request = "\n".join([
        method, path, "",
        "".join(f"{name}:{canonical[name]}\n" for name in names),
        ";".join(names), payload_hash])
    scope = f"{day}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical_request.encode()).hexdigest()])
    signing = ("AWS4" + secret_key).encode()
    for part in (day, region, "s3", "aws4_request"):
        signing = hmac.new(signing, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(signing, to_sign.encode(), hashlib.sha256).hexdigest()
    all_headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}")
    return all_headers
