"""The chunked encryption detects a wrong key, corruption, truncation and reordering."""

import os

import pytest
from herd.backup import crypto
from herd.errors import IntegrityError

KEY = os.urandom(32)
CHUNK = 64  # tiny chunks so a few hundred bytes span several records
RECORD = CHUNK + crypto.TAG_SIZE


def encrypt(data: bytes, key: bytes = KEY) -> bytes:
    out: list[bytes] = []
    encryptor = crypto.Encryptor(key, out.append, chunk_size=CHUNK)
    for start in range(0, len(data), 37):  # writes that do not line up with chunks
        encryptor.write(data[start:start + 37])
    encryptor.close()
    return b"".join(out)


def decrypt(blob: bytes, key: bytes = KEY) -> bytes:
    # Deliver in odd-sized pieces, like a network stream does.
    pieces = [blob[i:i + 50] for i in range(0, len(blob), 50)]
    return b"".join(crypto.decrypt(key, pieces, "part"))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 1000])
def test_round_trip(size):
    data = os.urandom(size)
    assert decrypt(encrypt(data)) == data


def test_same_plaintext_encrypts_differently():
    assert encrypt(b"x" * 200) != encrypt(b"x" * 200)


def test_wrong_key():
    with pytest.raises(IntegrityError, match="wrong key_file"):
        decrypt(encrypt(b"secret" * 50), os.urandom(32))


def test_flipped_bit_anywhere_is_detected():
    blob = bytearray(encrypt(os.urandom(500)))
    for position in (len(crypto.HEADER.pack(b"", 0, b"")) + 3, len(blob) // 2, len(blob) - 1):
        damaged = bytearray(blob)
        damaged[position] ^= 0x40
        with pytest.raises(IntegrityError):
            decrypt(bytes(damaged))


def test_truncation_at_a_record_boundary_is_detected():
    blob = encrypt(os.urandom(5 * CHUNK))
    header = crypto.HEADER.size
    with pytest.raises(IntegrityError, match="chunk 2"):
        decrypt(blob[: header + 3 * RECORD])


def test_reordered_records_are_detected():
    blob = encrypt(os.urandom(5 * CHUNK))
    header = crypto.HEADER.size
    records = [blob[header + i * RECORD: header + (i + 1) * RECORD] for i in range(5)]
    swapped = blob[:header] + b"".join(records[:2]) + records[3] + records[2] + records[4]
    with pytest.raises(IntegrityError, match="chunk 2 failed authentication"):
        decrypt(swapped)


def test_appended_record_is_detected():
    blob = encrypt(os.urandom(2 * CHUNK))
    with pytest.raises(IntegrityError):
        decrypt(blob + blob[crypto.HEADER.size:crypto.HEADER.size + RECORD])


def test_not_an_encrypted_stream():
    with pytest.raises(IntegrityError, match="bad magic"):
        decrypt(b"PGDMP" + b"\0" * 100)
    with pytest.raises(IntegrityError, match="truncated"):
        decrypt(b"HERD")


def test_key_id_names_the_key_without_revealing_it():
    assert crypto.key_id(KEY) == crypto.key_id(KEY)
    assert crypto.key_id(KEY) != crypto.key_id(os.urandom(32))
    assert KEY.hex()[:16] != crypto.key_id(KEY)
