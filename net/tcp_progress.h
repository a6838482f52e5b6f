// How far a peer has got through what we sent on a TCP socket: the kernel's count, which
// moves as the peer takes bytes, even while one large send of ours is still in progress.
#pragma once

#include <cstdint>

namespace ringway::net {

// Returns: bytes of fd's outgoing stream the peer has acknowledged (TCP_INFO
// tcpi_bytes_acked); 0 when fd is not a TCP socket or the kernel does not say.
uint64_t bytes_acked(int fd);

}  // namespace ringway::net
