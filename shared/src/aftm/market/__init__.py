"""What TAIFEX says: its products, how their prices are written, and its trading rules.

Plain values and pure functions; nothing here reads a clock or a socket.
"""
