"""Load generator for bench/submit.py: closed-loop HTTP/1.1 keep-alive clients on asyncio.

    python bench/load.py SPEC.json

SPEC holds ``host``, ``port``, ``connections``, ``seconds``, ``prefix`` and ``sessions`` (each with
``cookie``, ``csrf`` and ``body``; or ``get``: a path to GET instead, with any ``headers``, a dict).
Each connection sends one `POST /api/v1/activities` after
another (a fresh Idempotency-Key each time, the accounts in turn) until ``seconds`` have passed;
with ``once`` (submit.py: every entry a distinct submission) each entry of ``sessions`` is sent once,
whichever connection is free taking the next (one that finds none left stops, counted as the error
``exhausted``: submit.py sizes the list so it never happens); otherwise the connections walk the
sessions round and round (the floor's one body, a GET's logins),
then waits for its last answer: every request sent is answered and counted, so the rows in the
database can be compared with the answers exactly (wrk drops the answers in flight at its
deadline). Prints one JSON line: counts per status, errors, latency percentiles, wall time.

Raw sockets and a minimal response parser rather than httpx: the client shares the machine's two
cores with the server and must cost it as little as possible (submit.py prints its CPU).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

TIMEOUT = 10.0  # seconds for one answer; longer counts as an error


async def _one_connection(n: int, spec: dict, deadline: float, latencies: list[float], statuses: dict,
                          errors: dict, taken: list[int]) -> None:
    """``taken``: how many entries the connections have taken so far, with ``once`` (one list for all
    of them: a connection answered faster than the others must not come round to an entry another
    already sent — the same submission twice is a 409 likely_duplicate, not load)."""
    sessions = spec["sessions"]
    host = f"{spec['host']}:{spec['port']}"
    try:
        reader, writer = await asyncio.open_connection(spec["host"], spec["port"])
    except OSError:
        errors["connect"] = errors.get("connect", 0) + 1
        return
    sent = 0
    try:
        while time.perf_counter() < deadline:
            if not spec.get("once"):
                s = sessions[(n + sent * spec["connections"]) % len(sessions)]
            elif taken[0] < len(sessions):
                s = sessions[taken[0]]
                taken[0] += 1
            else:
                errors["exhausted"] = errors.get("exhausted", 0) + 1
                return
            if spec.get("get"):  # a page read (bench/boards.py): no body
                body = b""
                extra = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
                head = f"GET {spec['get']} HTTP/1.1\r\nHost: {host}\r\nCookie: {s['cookie']}\r\n{extra}\r\n".encode()
            else:
                body = s["body_bytes"]
                head = (
                    f"POST /api/v1/activities HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {len(body)}\r\nCookie: {s['cookie']}\r\nX-CSRF-Token: {s['csrf']}\r\n"
                    f"Idempotency-Key: {spec['prefix']}-{n}-{sent}\r\n\r\n"
                ).encode()
            started = time.perf_counter()
            writer.write(head + body)
            sent += 1
            try:
                status, length = await asyncio.wait_for(_read_head(reader), TIMEOUT)
                await asyncio.wait_for(reader.readexactly(length), TIMEOUT)
            except TimeoutError:
                errors["timeout"] = errors.get("timeout", 0) + 1
                return
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
    except (OSError, asyncio.IncompleteReadError, ValueError):
        errors["read"] = errors.get("read", 0) + 1
    finally:
        writer.close()


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, int]:
    status = int((await reader.readline()).split(b" ", 2)[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            return status, length
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])


async def run(spec: dict) -> dict:
    for s in spec["sessions"]:
        s["body_bytes"] = s.get("body", "").encode()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: dict[str, int] = {}
    started = time.perf_counter()
    deadline = started + spec["seconds"]
    taken = [0]
    await asyncio.gather(*(
        _one_connection(n, spec, deadline, latencies, statuses, errors, taken) for n in range(spec["connections"])))
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else 0.0

    return {"requests": len(latencies), "wall_s": wall, "statuses": statuses, "errors": errors,
            "p50_ms": pct(50), "p95_ms": pct(95), "p99_ms": pct(99),
            "max_ms": latencies[-1] * 1000 if latencies else 0.0}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as fh:
        print(json.dumps(asyncio.run(run(json.load(fh)))))
