#!/usr/bin/env python3
# Memory-row client of bench/run.sh: holds N keep-alive connections to a proxy on loopback,
# idle after one request each or slowly reading a large response, so the proxy's RSS per
# connection can be sampled. Bounded: every run ends after --hold seconds (or --timeout).
import argparse
import resource
import selectors
import socket
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True, help="proxy port on 127.0.0.1")
    p.add_argument("--path", default="/service1/size/100", help="request target")
    p.add_argument("--conns", type=int, default=10000, help="connections to hold")
    p.add_argument("--mode", choices=["idle", "slow"], default="idle",
                   help="idle: read the whole response, then stay idle; slow: read slowly")
    p.add_argument("--in-flight", type=int, default=200, help="connects/requests at a time (idle)")
    p.add_argument("--slow-bytes", type=int, default=1024,
                   help="slow mode: bytes each connection reads per --slow-interval")
    p.add_argument("--slow-interval", type=float, default=0.1, help="seconds between slow reads")
    p.add_argument("--settle", type=float, default=2.0,
                   help="slow mode: seconds of slow reading before signalling ready (longer "
                        "while a stream still waits for its first byte)")
    p.add_argument("--hold", type=float, default=5.0, help="seconds to hold after ready")
    p.add_argument("--timeout", type=float, default=60.0, help="give up after this many seconds")
    p.add_argument("--ready-file", required=True, help="written with 'ready N' once held")
    return p.parse_args()


def raise_nofile():
    # Ten thousand sockets need more than the usual soft limit of 1024: take the hard limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class Conn:
    def __init__(self, request, rcvbuf):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Small receive buffer: the kernel cannot soak up the response for us.
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.setblocking(False)
        self.out = request
        self.buf = b""
        self.need = None  # bytes of the whole response once its head is parsed
        self.done = False
        self.closed = False
        self.got = 0

    def on_readable(self):
        # Returns: False when the peer closed or failed.
        try:
            data = self.sock.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            return False
        if not data:
            return False
        self.feed(data)
        return True

    def feed(self, data):
        self.got += len(data)
        if self.need is None:
            self.buf += data
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                length = 0
                for line in self.buf[:end].split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                self.need = end + 4 + length
        if self.need is not None and self.got >= self.need:
            self.done = True


def hold_idle(args, request, deadline):
    sel = selectors.DefaultSelector()
    conns, started, done, failed = [], 0, 0, 0
    active = 0
    while done + failed < args.conns:
        if time.monotonic() > deadline:
            sys.exit(f"conn_hold: timeout with {done} of {args.conns} connections done")
        while started < args.conns and active < args.in_flight:
            c = Conn(request, 0)
            c.sock.connect_ex(("127.0.0.1", args.port))
            sel.register(c.sock, selectors.EVENT_WRITE, c)
            conns.append(c)
            started += 1
            active += 1
        for key, ev in sel.select(timeout=1.0):
            c = key.data
            if ev & selectors.EVENT_WRITE:
                try:
                    n = c.sock.send(c.out)
                except OSError:
                    sel.unregister(c.sock)
                    failed += 1
                    active -= 1
                    continue
                c.out = c.out[n:]
                if not c.out:
                    sel.modify(c.sock, selectors.EVENT_READ, c)
            elif ev & selectors.EVENT_READ:
                ok = c.on_readable()
                if not ok or c.done:
                    sel.unregister(c.sock)
                    active -= 1
                    if ok:
                        done += 1
                    else:
                        failed += 1
    if failed:
        sys.exit(f"conn_hold: {failed} of {args.conns} connections failed")
    return conns


def hold_slow(args, request, deadline):
    conns = []
    for _ in range(args.conns):
        c = Conn(request, 4096)
        c.sock.setblocking(True)
        c.sock.settimeout(5)
        c.sock.connect(("127.0.0.1", args.port))
        c.sock.sendall(c.out)
        c.sock.setblocking(False)
        conns.append(c)
    end_settle = time.monotonic() + args.settle
    # The hold must fit before the deadline too: stop waiting for first bytes in time for it.
    last_ready = deadline - args.hold - 1
    ready_at_end = None
    while True:
        now = time.monotonic()
        if ready_at_end is None and now > last_ready:
            waiting = sum(1 for c in conns if c.got == 0)
            sys.exit(f"conn_hold: timeout with {waiting} of {args.conns} streams still waiting "
                     "for their first byte")
        if ready_at_end is None and now >= end_settle:
            # Ready once every stream is mid-response. A stream still waiting for its first
            # byte only says the origin is slow to start 200 large responses (each is a 4 MiB
            # copy there), so keep reading until the timeout; one that finished or closed
            # means the response is too small to hold a slow reader.
            ended = sum(1 for c in conns if c.done or c.closed)
            if ended:
                sys.exit(f"conn_hold: {ended} of {args.conns} streams ended before every stream "
                         "was mid-response (response too small for the slow-read row?)")
            if all(c.got > 0 for c in conns):
                write_ready(args, len(conns))
                ready_at_end = now + args.hold
        if ready_at_end is not None and now >= ready_at_end:
            return conns
        for c in conns:
            if c.closed:
                continue
            try:
                data = c.sock.recv(args.slow_bytes)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if data:
                c.feed(data)
            else:
                c.closed = True
        time.sleep(args.slow_interval)


def write_ready(args, n):
    with open(args.ready_file, "w") as f:
        f.write(f"ready {n}\n")


def main():
    args = parse_args()
    limit = raise_nofile()
    if args.conns + 64 > limit:
        sys.exit(f"conn_hold: RLIMIT_NOFILE is {limit}, too low for {args.conns} connections")
    request = (f"GET {args.path} HTTP/1.1\r\nHost: 127.0.0.1:{args.port}\r\n"
               "User-Agent: conn_hold\r\n\r\n").encode()
    deadline = time.monotonic() + args.timeout
    if args.mode == "idle":
        conns = hold_idle(args, request, deadline)
        write_ready(args, len(conns))
        time.sleep(args.hold)
    else:
        conns = hold_slow(args, request, deadline)
    for c in conns:
        c.sock.close()


if __name__ == "__main__":
    main()
