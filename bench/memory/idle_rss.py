#!/usr/bin/env python3
"""RSS per idle keep-alive connection of a running proxy: opens N connections, sends one GET on
each, reads every response, then compares the proxy's VmRSS with its RSS before the clients.
Usage: idle_rss.py PID PORT PATH [N]   (loopback only; prints KiB before/after/per connection)"""
import resource, socket, sys, time

def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0

def main():
    pid, port, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 10000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Warm up: one connection, a few requests (pools, lazily built structures).
    w = socket.create_connection(("127.0.0.1", port))
    for _ in range(3):
        w.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        w.recv(65536)
    w.close()
    time.sleep(0.5)
    before = rss_kib(pid)
    socks = []
    req = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
    for i in range(n):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(req)
        socks.append(s)
        if len(socks) % 500 == 0:  # read as we go so the proxy is never asked for more at once
            for t in socks[-500:]:
                t.settimeout(10)
                data = t.recv(65536)
                assert data.startswith(b"HTTP/1.1 200"), data[:80]
    for t in socks[len(socks) - len(socks) % 500:]:
        t.settimeout(10)
        assert t.recv(65536).startswith(b"HTTP/1.1 200")
    time.sleep(1.0)
    after = rss_kib(pid)
    # Every connection is still usable.
    for t in socks[::97]:
        t.sendall(req)
        assert t.recv(65536).startswith(b"HTTP/1.1 200")
    print(f"connections={n} rss_before_kib={before} rss_after_kib={after} "
          f"per_connection_kib={(after - before) / n:.2f}")
    for t in socks:
        t.close()

if __name__ == "__main__":
    main()
