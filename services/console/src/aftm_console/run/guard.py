"""`python -m aftm_console.run.guard PARENT_PID MODULE`: become `python -m MODULE` (same pid),
set to receive SIGTERM when its parent dies.

`aftm run` stops its children itself on Ctrl-C or SIGTERM; this covers the one case it cannot
handle, its own SIGKILL, so no child is ever left running alone. The death signal survives the
exec, and is set here rather than in a `preexec_fn`, which is unsafe in a process with threads.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1
EXIT_ORPHANED = 1


def main(argv: list[str]) -> int:
    parent, module = int(argv[1]), argv[2]
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:
        return EXIT_ORPHANED  # the parent died before the death signal was armed
    # Not a shell: the same interpreter with a module name chosen by aftm run itself.
    os.execv(sys.executable, [sys.executable, "-m", module])  # noqa: S606


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
