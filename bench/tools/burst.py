#!/usr/bin/env python3
# Burst row of bench/run.sh. "upstream": a thread-per-connection HTTP server with a short listen
# backlog and a fixed service time that records its peak of open connections (as the kernel
# sees them: peers that have not closed); "client": N connections at once, one GET each
# (Connection: close), counting 200s. Loopback only; both sides end by themselves.
import argparse
import select
import socket
import sys
import threading
import time


def upstream(args):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", args.port))
    srv.listen(args.backlog)
    live, lock = [], threading.Lock()
    peak, accepted = 0, 0
    response = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

    def held_by_peers():  # connections whose peer has not closed yet (caller holds lock)
        p = select.poll()
        for s in live:
            p.register(s, select.POLLRDHUP)
        gone = {fd for fd, ev in p.poll(0) if ev & (select.POLLRDHUP | select.POLLHUP | select.POLLERR)}
        return sum(1 for s in live if s.fileno() not in gone)

    def serve(conn):
        buf = b""
        try:
            while True:
                while b"\r\n\r\n" not in buf:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buf += chunk
                buf = buf[buf.index(b"\r\n\r\n") + 4:]  # GET: the head is the request
                time.sleep(args.service_ms / 1000)
                conn.sendall(response)
        except OSError:
            pass
        finally:
            with lock:
                live.remove(conn)
            conn.close()

    srv.settimeout(0.2)
    deadline = time.monotonic() + args.timeout
    while time.monotonic() < deadline:
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            continue
        with lock:
            accepted += 1
            peak = max(peak, held_by_peers() + 1)
            live.append(conn)
            with open(args.stats_file, "w") as f:
                f.write(f"{peak} {accepted}\n")
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def client(args):
    req = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode()
    socks, statuses = [], []
    t0 = time.monotonic()
    for _ in range(args.conns):
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", args.port))
            s.sendall(req)
            s.setblocking(False)
            socks.append([s, b""])
        except OSError:
            s.close()
            statuses.append(0)
    poller = select.poll()
    by_fd = {}
    for entry in socks:
        poller.register(entry[0], select.POLLIN)
        by_fd[entry[0].fileno()] = entry
    deadline = t0 + args.timeout
    while by_fd and time.monotonic() < deadline:
        for fd, _ in poller.poll(100):
            entry = by_fd[fd]
            try:
                chunk = entry[0].recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                chunk = b""
            if chunk:
                entry[1] += chunk
                continue
            poller.unregister(fd)
            del by_fd[fd]
    for s, data in socks:
        s.close()
        statuses.append(int(data[9:12]) if data.startswith(b"HTTP/1.1 ") else 0)
    ok = sum(1 for st in statuses if st == 200)
    print(f"{ok} {len(statuses) - ok} {time.monotonic() - t0:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="role", required=True)
    u = sub.add_parser("upstream")
    u.add_argument("--port", type=int, required=True)
    u.add_argument("--backlog", type=int, default=128)
    u.add_argument("--service-ms", type=float, default=20)
    u.add_argument("--stats-file", required=True, help="rewritten with 'PEAK ACCEPTED'")
    u.add_argument("--timeout", type=float, default=600, help="exit after this many seconds")
    c = sub.add_parser("client")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--path", default="/service1/burst")
    c.add_argument("--conns", type=int, default=2000)
    c.add_argument("--timeout", type=float, default=60)
    args = p.parse_args()
    upstream(args) if args.role == "upstream" else client(args)


if __name__ == "__main__":
    sys.exit(main())
