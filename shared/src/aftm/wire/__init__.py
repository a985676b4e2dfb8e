"""How AFTM values travel between processes: one msgpack codec, sockets and frame layouts."""
