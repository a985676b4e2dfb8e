"""The vocabulary every service shares: plain values, no I/O."""
