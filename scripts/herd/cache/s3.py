"""The remote-media cache on S3-compatible storage: measured with list_objects_v2.

boto3 is imported only when S3 is configured (hosts get Debian's python3-boto3 then)."""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from herd.cache.config import S3Settings
from herd.errors import StorageError


def _client(settings: S3Settings) -> Any:
    import boto3  # noqa: PLC0415 - optional dependency, only with S3

    return boto3.client("s3", endpoint_url=settings.endpoint, region_name=settings.region,
                        aws_access_key_id=settings.access_key,
                        aws_secret_access_key=settings.secret_key)


def _objects(settings: S3Settings, prefix: str) -> Iterator[dict[str, Any]]:
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    try:
        pages = _client(settings).get_paginator("list_objects_v2").paginate(
            Bucket=settings.bucket, Prefix=prefix)
        for page in pages:
            yield from page.get("Contents", [])
    except (BotoCoreError, ClientError) as error:
        raise StorageError(f"listing s3://{settings.bucket}/{prefix} failed: {error}") from error


def usage(settings: S3Settings) -> int:
    """Bytes stored under the cache prefix."""
    return sum(obj["Size"] for obj in _objects(settings, settings.prefix))


def bytes_older_than(settings: S3Settings, subdir: str, days: int, now: datetime) -> int:
    """Bytes under <prefix><subdir>/ last modified more than `days` days before now."""
    cutoff = now.timestamp() - days * 86400
    return sum(obj["Size"] for obj in _objects(settings, f"{settings.prefix}{subdir}/")
               if obj["LastModified"].timestamp() < cutoff)


def settings_from_env_file(values: dict[str, str]) -> S3Settings | None:
    """S3 settings from Mastodon's .env.production values, None when S3 is off."""
    if values.get("S3_ENABLED", "").lower() != "true":
        return None
    if not values.get("S3_BUCKET"):
        raise StorageError("S3_ENABLED=true but S3_BUCKET is empty in .env.production")
    key_prefix = values.get("S3_KEY_PREFIX", "").strip("/")
    endpoint = values.get("S3_ENDPOINT") or None
    return S3Settings(bucket=values["S3_BUCKET"],
                      prefix=f"{key_prefix}/cache/" if key_prefix else "cache/",
                      endpoint=endpoint, region=values.get("S3_REGION") or None,
                      access_key=values.get("AWS_ACCESS_KEY_ID") or None,
                      secret_key=values.get("AWS_SECRET_ACCESS_KEY") or None)
