#!/usr/bin/env python3
# Writes the seed corpora in tests/fuzz/corpus/<target>/ from inputs the unit and e2e tests use
# (request/response/chunk vectors, the test configs). Re-run after adding cases; output is kept.
import hashlib
import pathlib

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent

POST = b"POST / HTTP/1.1\r\nHost: a\r\n"
TE = POST + b"Transfer-Encoding: chunked\r\n\r\n"
REQUESTS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /service1/ping?x=1 HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, X-A\r\nX-A: 1\r\n\r\n",
    POST + b"Content-Length: 5\r\n\r\nhello",
    POST + b"Content-Length:\t5\t\r\n\r\nhello",
    TE + b"5;a=\"q\\\"x\" ;b\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    POST + b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    POST + b"Transfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    b"GET /\r\n", b"GET / HTTP/2.0\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
    b"GET / HTTP/1.1\nHost: a\n\n",
]
RESPONSES = [
    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nServer: s\r\n\r\npong",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.1 200 OK\r\n\r\nuntil close",
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 20 OK\r\n\r\n",
]
CHUNKS = [
    b"5\r\nhello\r\n0\r\n\r\n", b"5 ;a=b\r\nhello\r\n0\r\n\r\n",
    b"1;x=\"\\\\\"\r\na\r\n0\r\nT: v\t\r\n\r\n", b"00000000000000001\r\na\r\n0\r\n\r\n",
    b"5\r\nhelloXX", b"0\r\nA: 1\r\nB: 2\r\n\r\n", b"FFFFFFFFFFFFFFFFF\r\n",
]
TARGETS = [b"/", b"/service1/ping", b"/service1/../etc/passwd", b"/%2e%2e/x?q=1", b"http://h/service1/deep/x",
           b"//a//b/./c", b"/api", b"/service1", b"*"]

def write(target, items):
    d = HERE / "corpus" / target
    d.mkdir(parents=True, exist_ok=True)
    for item in items:
        (d / hashlib.sha1(item).hexdigest()[:16]).write_bytes(item)

write("request_parser", [b"\x00" + r for r in REQUESTS] + [b"\x2b" + r for r in REQUESTS])
write("response_parser", [b"\x00" + r for r in RESPONSES] + [b"\x03" + r for r in RESPONSES])
write("chunked_body", [b"\x00" + c for c in CHUNKS] + [b"\x11" + c for c in CHUNKS])
configs = [p.read_bytes() for p in sorted((ROOT / "tests/data/configs").glob("*.yaml"))]
configs += [(ROOT / "deploy/ringway.yaml").read_bytes()]
write("config_loader", configs)
write("target_routing", TARGETS)
exchanges = []
for req in REQUESTS[:9]:
    for resp in RESPONSES[:4]:
        exchanges.append(len(req).to_bytes(2, "little") + req + resp)
write("exchange", exchanges)
