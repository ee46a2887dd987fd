#!/usr/bin/env python3
"""Helpers of scripts/loadtest.sh (standard library only; 127.0.0.1 only, bounded in time).

  loadtest.py slow PORT COUNT SECONDS
      Holds COUNT slow connections to 127.0.0.1:PORT for SECONDS: each sends half a request head
      and then nothing; when the server closes one, another takes its place. Prints
      `slow_connections=N reopened=M` at the end.

  loadtest.py retrying PORT SECONDS CLIENTS RUN_ID
      CLIENTS clients post tier results, each with its own event_id, for SECONDS, and retry each
      result until it is answered 200 as the widget's outbox does (same body, same event_id,
      backoff from 50 ms to 1 s), also while the server is down. Prints
      `sent=N acknowledged=N stored_answers=N duplicate_answers=N retries=N p50_ms= p99_ms=`
      (latency from the first attempt to the 200, retries included); the caller compares
      `acknowledged` with the rows stored.
"""

import http.client
import json
import resource
import selectors
import socket
import sys
import threading
import time


def raise_fd_limit(wanted):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def slow(port, count, seconds):
    raise_fd_limit(count + 256)
    head = b"POST /v1/tier HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/plain\r\nX-Slow: "
    sel = selectors.DefaultSelector()
    opened = 0
    reopened = 0

    def open_one():
        nonlocal opened
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.connect_ex(("127.0.0.1", port))
        except OSError:
            s.close()
            return False
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE, "new")
        opened += 1
        return True

    for _ in range(count):
        open_one()
    end = time.time() + seconds
    while time.time() < end:
        for key, events in sel.select(timeout=0.5):
            s = key.fileobj
            if key.data == "new" and events & selectors.EVENT_WRITE:
                try:
                    s.send(head)
                    sel.modify(s, selectors.EVENT_READ, "sent")
                except OSError:
                    sel.unregister(s)
                    s.close()
                    reopened += 1
                    open_one()
                continue
            if events & selectors.EVENT_READ:
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    sel.unregister(s)
                    s.close()
                    reopened += 1
                    if time.time() < end:
                        open_one()
    print(f"slow_connections={count} reopened={reopened}")


def retrying(port, seconds, clients, run_id):
    end = time.time() + seconds
    lock = threading.Lock()
    totals = {"sent": 0, "acknowledged": 0, "stored": 0, "duplicate": 0, "retries": 0}
    latencies = []
    at = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())

    def client(number):
        conn = None
        n = 0
        while time.time() < end:
            n += 1
            body = json.dumps({
                "schema": 1, "tier": "MQL", "previous_tier": "unqualified",
                "model_id": "acme-saas", "model_version": "2026-11-01",
                "visitor_id": f"crash-{run_id}-{number}-{n % 50}",
                "event_id": f"crash-{run_id}-{number}-{n}", "at": at,
            })
            with lock:
                totals["sent"] += 1
            backoff = 0.05
            attempt_started = time.time()
            # Retried until answered, as the widget's outbox does (beyond the end of the run too:
            # nothing sent may be lost).
            while True:
                try:
                    if conn is None:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                    conn.request("POST", "/v1/tier", body, {"Content-Type": "text/plain;charset=UTF-8"})
                    response = conn.getresponse()
                    answer = response.read()
                    if response.status == 200:
                        status = json.loads(answer).get("status")
                        with lock:
                            totals["acknowledged"] += 1
                            totals["stored" if status == "stored" else "duplicate"] += 1
                            latencies.append(time.time() - attempt_started)
                        break
                except (OSError, http.client.HTTPException, ValueError):
                    if conn is not None:
                        conn.close()
                    conn = None
                with lock:
                    totals["retries"] += 1
                if time.time() > end + 60:
                    return
                time.sleep(backoff)
                backoff = min(backoff * 2, 1.0)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies.sort()

    def pct(p):
        if not latencies:
            return 0.0
        return latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] * 1000

    print(
        f"sent={totals['sent']} acknowledged={totals['acknowledged']} stored_answers={totals['stored']} "
        f"duplicate_answers={totals['duplicate']} retries={totals['retries']} "
        f"p50_ms={pct(50):.1f} p99_ms={pct(99):.1f}"
    )


def main():
    if len(sys.argv) >= 5 and sys.argv[1] == "slow":
        slow(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
    elif len(sys.argv) >= 6 and sys.argv[1] == "retrying":
        retrying(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), sys.argv[5])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
