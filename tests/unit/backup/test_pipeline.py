"""Streaming pieces: gzip both ways, the tar reader adapter, Mastodon's release."""

import gzip
import io
import os

import pytest
from herd.backup.operations import mastodon_release
from herd.backup.pipeline import Digest, Gzip, IterReader, Tee, gunzip


def test_gzip_output_is_standard_and_round_trips():
    data = os.urandom(100_000) + b"a" * 300_000
    out: list[bytes] = []
    compressor = Gzip(out.append)
    for start in range(0, len(data), 7777):
        compressor.write(data[start:start + 7777])
    compressor.close()
    blob = b"".join(out)
    assert gzip.decompress(blob) == data
    assert b"".join(gunzip([blob[i:i + 1000] for i in range(0, len(blob), 1000)])) == data


def test_gunzip_refuses_a_cut_stream():
    blob = gzip.compress(os.urandom(50_000))
    with pytest.raises(Exception, match="ended early"):
        b"".join(gunzip([blob[:-20]]))


def test_iter_reader_reads_across_pieces():
    reader = io.BufferedReader(IterReader([b"abc", b"", b"defgh", b"i"]))
    assert reader.read(4) == b"abcd"
    assert reader.read() == b"efghi"


def test_tee_counts_what_passes():
    seen: list[bytes] = []
    tee = Tee(seen.append)
    tee.write(b"hello ")
    tee.write(b"world")
    digest = Digest()
    digest.update(b"hello world")
    assert (tee.digest.size, tee.digest.sha256) == (11, digest.sha256)
    assert b"".join(seen) == b"hello world"


def test_mastodon_release_from_version_rb(tmp_path):
    (tmp_path / "lib/mastodon").mkdir(parents=True)
    (tmp_path / "lib/mastodon/version.rb").write_text(
        "def major\n  4\nend\ndef minor\n  3\nend\ndef patch\n  11\nend\n")
    assert mastodon_release(str(tmp_path)) == "4.3.11"
    assert mastodon_release(str(tmp_path / "absent")) == "unknown"
