"""The stand-in's media uploads (POST /api/v2/media, GET /api/v1/media/:id) stored like
Paperclip: on S3 (moto_server with signature checking, on loopback) or on local disk."""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.dont_write_bytecode = True  # keep the stand-in source tree free of __pycache__

STANDIN = Path(__file__).resolve().parents[2] / "molecule" / "shared" / "standin"
sys.path.insert(0, str(STANDIN))
sys.path.insert(0, str(STANDIN / "tree" / "lib"))

import harness  # noqa: E402
from standin import media  # noqa: E402

BUCKET = "herd-media"
KEY = re.compile(r"media_attachments/files/000/000/00\d/original/[0-9a-f]{16}\.png$")


def png(seed: int) -> bytes:
    """A real 1x1 PNG whose pixel depends on seed, so uploads differ."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")
    raw = b"\x00" + bytes([seed % 256, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02"
                                         b"\x00\x00\x00")
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """moto_server with IAM authentication on: unknown keys and bad signatures fail."""
    servers = harness.integration_servers()
    binary = servers._moto_server()
    port = harness.free_port()
    # The first three calls (create user, policy, key) run before authentication starts.
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "3"}
    process = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        servers.wait_for_port(port, process)
        import boto3

        endpoint = f"http://127.0.0.1:{port}"
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        iam.create_user(UserName="mastodon")
        iam.put_user_policy(UserName="mastodon", PolicyName="s3", PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Action": "s3:*", "Resource": "*"}]}'))
        key = iam.create_access_key(UserName="mastodon")["AccessKey"]
        client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id=key["AccessKeyId"],
                              aws_secret_access_key=key["SecretAccessKey"])
        client.create_bucket(Bucket=BUCKET)
        yield {"S3_ENABLED": "true", "S3_ENDPOINT": endpoint, "S3_BUCKET": BUCKET,
               "S3_PROTOCOL": "http", "S3_HOSTNAME": f"127.0.0.1:{port}",
               "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
               "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    finally:
        process.terminate()
        process.wait(10)


@contextlib.contextmanager
def app(tmp_path: Path, postgres: Any, redis_env: dict[str, str], name: str,
        extra: dict[str, str] | None = None, setup: bool = True,
        host: str = "web1") -> Iterator[harness.Instance]:
    with harness.instance(tmp_path / name / host, postgres, redis_env, f"standin_media_{name}",
                          extra, setup=setup) as instance:
        yield instance


def fetch(url: str, s3: dict[str, str]) -> bytes:
    """GET the returned URL itself, signed by botocore (moto runs with authentication on,
    so an anonymous GET is refused there, unlike a public-read bucket on real S3)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials(s3["AWS_ACCESS_KEY_ID"], s3["AWS_SECRET_ACCESS_KEY"]), "s3",
              "us-east-1").add_auth(request)
    prepared = urllib.request.Request(url, headers=dict(request.headers.items()))  # noqa: S310
    with urllib.request.urlopen(prepared, timeout=10) as answer:  # noqa: S310 - loopback moto
        return answer.read()


def object_acl(s3: dict[str, str], key: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=s3["S3_ENDPOINT"], region_name="us-east-1",
                          aws_access_key_id=s3["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=s3["AWS_SECRET_ACCESS_KEY"])
    grants = client.get_object_acl(Bucket=BUCKET, Key=key)["Grants"]
    return sorted(g["Grantee"].get("URI", "owner") + ":" + g["Permission"] for g in grants)


def test_s3_upload_is_fetched_back_and_seen_by_a_second_web_process(
        tmp_path: Path, postgres: Any, redis_env: dict[str, str],
        s3: dict[str, str]) -> None:
    with app(tmp_path, postgres, redis_env, "s3", s3) as first:
        token = first.create_user("alice", "read write")
        web = first.start_web()
        original = png(1)
        answer = web.upload(token, "Holiday Photo.PNG", original)
        assert answer.status == 200, answer.body
        attachment = answer.json()
        assert attachment["type"] == "image"
        # :s3_path_url: S3_PROTOCOL://S3_HOSTNAME/BUCKET/key
        prefix = f"http://{s3['S3_HOSTNAME']}/{BUCKET}/"
        assert attachment["url"].startswith(prefix)
        assert KEY.search(attachment["url"]), attachment["url"]
        assert fetch(attachment["url"], s3) == original
        key = attachment["url"][len(prefix):]
        # S3_PERMISSION defaults to public-read (paperclip.rb l.57).
        assert "http://acs.amazonaws.com/groups/global/AllUsers:READ" in object_acl(s3, key)

        # Another web host with its own checkout, sharing the database only.
        with app(tmp_path, postgres, redis_env, "s3", s3, setup=False,
                 host="web2") as second:
            other = second.start_web()
            shown = other.request("GET", f"/api/v1/media/{attachment['id']}", token)
            assert (shown.status, shown.json()) == (200, attachment)
        # Nothing was written locally when S3 is on.
        assert not (first.root / "public" / "system" / "media_attachments").exists()


def test_s3_alias_host_and_key_prefix(tmp_path: Path, postgres: Any,
                                     redis_env: dict[str, str], s3: dict[str, str]) -> None:
    alias = f"{s3['S3_HOSTNAME']}/{BUCKET}"
    settings = {**s3, "S3_ALIAS_HOST": alias, "S3_KEY_PREFIX": "tenant-a"}
    with app(tmp_path, postgres, redis_env, "alias", settings) as instance:
        token = instance.create_user("bob", "write:media")
        web = instance.start_web()
        data = png(2)
        url = web.upload(token, "x.png", data).json()["url"]
        assert url.startswith(f"http://{alias}/tenant-a/media_attachments/files/000/000/001/")
        assert fetch(url, s3) == data


def test_wrong_s3_secret_fails_the_upload_and_leaves_no_record(
        tmp_path: Path, postgres: Any, redis_env: dict[str, str],
        s3: dict[str, str]) -> None:
    settings = {**s3, "AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    with app(tmp_path, postgres, redis_env, "badsecret", settings) as instance:
        token = instance.create_user("carol", "write")
        web = instance.start_web()
        answer = web.upload(token, "x.png", png(3))
        assert answer.status == 500
        assert "url" not in answer.json()
        assert instance.psql("SELECT count(*) FROM media_attachments;").strip() == "0"
        assert web.request("GET", "/api/v1/media/1", token).status == 404


def test_unreachable_s3_is_a_temporary_error(tmp_path: Path, postgres: Any,
                                            redis_env: dict[str, str]) -> None:
    settings = {"S3_ENABLED": "true", "S3_BUCKET": BUCKET,
                "S3_ENDPOINT": f"http://127.0.0.1:{harness.free_port()}",
                "AWS_ACCESS_KEY_ID": "k", "AWS_SECRET_ACCESS_KEY": "s"}
    with app(tmp_path, postgres, redis_env, "down", settings) as instance:
        token = instance.create_user("dave", "write")
        answer = instance.start_web().upload(token, "x.png", png(4))
        assert answer.status == 503


def test_local_upload_lands_under_paperclip_root(tmp_path: Path, postgres: Any,
                                                 redis_env: dict[str, str]) -> None:
    settings = {"WEB_DOMAIN": "media.example.test"}
    with app(tmp_path, postgres, redis_env, "local", settings) as instance:
        token = instance.create_user("erin", "write")
        web = instance.start_web()
        data = png(5)
        attachment = web.upload(token, "cat.png", data).json()
        url = attachment["url"]
        assert url.startswith("https://media.example.test/system/media_attachments/files/"
                              "000/000/001/original/")
        stored = instance.root / "public" / "system" / url.split("/system/", 1)[1]
        assert stored.read_bytes() == data
        # PAPERCLIP_ROOT_PATH / PAPERCLIP_ROOT_URL move the files and the URL.
        elsewhere = tmp_path / "uploads"
        moved = instance.start_web({"PAPERCLIP_ROOT_PATH": str(elsewhere),
                                    "PAPERCLIP_ROOT_URL": "/files"})
        url2 = moved.upload(token, "dog.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64).json()["url"]
        assert url2.startswith("https://media.example.test/files/media_attachments/files/"
                               "000/000/002/original/") and url2.endswith(".jpg")
        assert (elsewhere / url2.split("/files/", 1)[1]).is_file()


def test_media_refuses_what_upstream_refuses(tmp_path: Path, postgres: Any,
                                            redis_env: dict[str, str]) -> None:
    with app(tmp_path, postgres, redis_env, "refusals") as instance:
        writer = instance.create_user("frank", "write:media")
        reader = instance.create_user("grace", "read")
        other = instance.create_user("heidi", "write")
        web = instance.start_web()
        assert web.upload(None, "x.png", png(6)).status == 401
        assert web.upload("bogus-token", "x.png", png(6)).status == 401
        assert web.upload(reader, "x.png", png(6)).status == 403
        missing = web.upload(writer, "x.png", png(6), field_name="picture")
        assert (missing.status, missing.json()) == (
            422, {"error": "Validation failed: File can't be blank"})
        assert web.upload(writer, "notes.txt", b"plain text").status == 422
        created = web.upload(writer, "x.png", png(6)).json()
        path = f"/api/v1/media/{created['id']}"
        assert web.request("GET", path).status == 401
        assert web.request("GET", path, reader).status == 403  # needs write:media
        assert web.request("GET", path, other).status == 404  # not the owner's
        assert web.request("GET", path, writer).json() == created


def test_multipart_parser_keeps_binary_bytes() -> None:
    data = bytes(range(256)) * 4 + b"\r\n--not-the-boundary\r\n"
    body = (b"--B\r\nContent-Disposition: form-data; name=\"description\"\r\n\r\nhi\r\n"
            b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" + data + b"\r\n--B--\r\n")
    fields = media.parse_multipart("multipart/form-data; boundary=B", body)
    upload = fields["file"]
    assert isinstance(upload, media.Upload) and upload.data == data
    assert fields["description"] == "hi"
    assert media.id_partition(1) == "000/000/001"
    assert media.id_partition(109_876_543_210) == "109/876/543/210"  # "%09d" then /\d{3}/
