"""Is a Kafka broker answering? Standard library only, so it runs before .venv exists.

    python3 kafka_probe.py HOST:PORT            exit 0 once ApiVersions succeeds
    python3 kafka_probe.py HOST:PORT --versions also print the broker's version range
                                                of every API key it supports

A broker opens its client listener only at the end of start-up, so an ApiVersions
answer with error 0 means it serves requests.
"""

from __future__ import annotations

import socket
import struct
import sys

# API keys whose ranges matter to aiokafka's producer, consumer and transactions.
API_NAMES = {
    0: "Produce",
    1: "Fetch",
    2: "ListOffsets",
    3: "Metadata",
    8: "OffsetCommit",
    9: "OffsetFetch",
    10: "FindCoordinator",
    11: "JoinGroup",
    12: "Heartbeat",
    13: "LeaveGroup",
    14: "SyncGroup",
    18: "ApiVersions",
    19: "CreateTopics",
    20: "DeleteTopics",
    22: "InitProducerId",
    24: "AddPartitionsToTxn",
    25: "AddOffsetsToTxn",
    26: "EndTxn",
    28: "TxnOffsetCommit",
    65: "DescribeTransactions",
    66: "ListTransactions",
}


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return buf


def api_versions(host: str, port: int, timeout: float = 3.0) -> dict[int, tuple[int, int]]:
    client_id = b"sqlstream-probe"
    # ApiVersions v0: header v1 (api_key, api_version, correlation_id, client_id), empty body.
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        resp = _recv_exact(sock, size)
    correlation_id, error_code, count = struct.unpack_from(">ihi", resp, 0)
    if correlation_id != 7:
        raise ConnectionError(f"unexpected correlation id {correlation_id}")
    if error_code != 0:
        raise ConnectionError(f"ApiVersions error code {error_code}")
    ranges = {}
    for i in range(count):
        key, lo, hi = struct.unpack_from(">hhh", resp, 10 + 6 * i)
        ranges[key] = (lo, hi)
    return ranges


def main(argv: list[str]) -> int:
    host, _, port = argv[1].rpartition(":")
    try:
        ranges = api_versions(host, int(port))
    except OSError as exc:
        print(f"kafka at {argv[1]} not answering: {exc}", file=sys.stderr)
        return 1
    if "--versions" in argv:
        for key in sorted(ranges):
            lo, hi = ranges[key]
            print(f"{key:3d} {API_NAMES.get(key, '?'):22s} v{lo}..v{hi}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
