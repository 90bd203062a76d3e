#!/usr/bin/env python3
"""Stand-in for mastodon-streaming: a WebSocket (RFC 6455) echo server.

Each text message comes back prefixed with the port that answered, so tests
see which streaming instance nginx chose.
"""

import base64
import hashlib
import socketserver
import struct
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def read_exact(stream, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise ConnectionError("peer closed")
    return data


def read_frame(stream) -> tuple[int, bytes]:
    first, second = read_exact(stream, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", read_exact(stream, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", read_exact(stream, 8))
    mask = read_exact(stream, 4) if second & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(stream, length)))
    return first & 0x0F, payload


def frame(opcode: int, payload: bytes) -> bytes:
    header = bytes([0x80 | opcode])
    if len(payload) < 126:
        header += bytes([len(payload)])
    elif len(payload) < 65536:
        header += bytes([126]) + struct.pack("!H", len(payload))
    else:
        header += bytes([127]) + struct.pack("!Q", len(payload))
    return header + payload


class EchoHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        headers = {}
        self.rfile.readline()  # request line
        while (line := self.rfile.readline().decode("latin-1").strip()) != "":
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("upgrade", "").lower() != "websocket":
            self.wfile.write(b"HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n")
            return
        accept = base64.b64encode(
            hashlib.sha1(headers["sec-websocket-key"].encode() + GUID).digest()  # noqa: S324 (RFC 6455)
        )
        self.wfile.write(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
        )
        port = str(self.server.server_address[1]).encode()
        try:
            while True:
                opcode, payload = read_frame(self.rfile)
                if opcode == 0x8:  # close
                    self.wfile.write(frame(0x8, payload[:2]))
                    return
                if opcode == 0x9:  # ping
                    self.wfile.write(frame(0xA, payload))
                elif opcode in (0x1, 0x2):
                    self.wfile.write(frame(opcode, port + b" " + payload))
        except ConnectionError:
            return


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    Server(("127.0.0.1", int(sys.argv[1])), EchoHandler).serve_forever()
