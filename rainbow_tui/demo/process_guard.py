"""Tie the lifetime of child processes to their parent (Linux ``PR_SET_PDEATHSIG``).

The demo stack must never leave a PostgreSQL server or a supervisor running after
whoever started it has gone, even when that parent was killed with SIGKILL and had
no chance to clean up.  The kernel can send a chosen signal to a process when its
parent dies; these helpers ask for it.

Two kernel rules shape the code:

* the death signal is cleared when the process changes credentials, so a child
  that switches to an unprivileged user must ask for it *after* the switch
  (``subprocess`` runs ``preexec_fn`` after ``setreuid``, which is what we need);
* "parent" means the *thread* that forked the child: a child forked from a
  short-lived thread would be signalled when that thread ends.  Callers fork from
  the main thread (asyncio's loop) or from a thread that lives as long as the
  process (see :mod:`rainbow_tui.demo.launcher`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1

# Loaded once at import so that the pre-exec hook, which runs in a freshly forked
# child of a possibly multi-threaded process, only calls an already resolved
# function and allocates as little as possible.
_libc: ctypes.CDLL | None = None
if sys.platform.startswith("linux"):
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    _prctl = _libc.prctl
    _prctl.argtypes = [
        ctypes.c_int,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_ulong,
    ]
    _prctl.restype = ctypes.c_int


def death_signal_supported() -> bool:
    return _libc is not None


def set_parent_death_signal(sig: signal.Signals) -> None:
    """Ask the kernel to send ``sig`` to this process when its parent dies."""
    if _libc is None:
        return
    if _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG) failed: {os.strerror(err)}")


def exit_if_parent_gone(expected_parent_pid: int) -> None:
    """Close the race where the parent died before the death signal was armed.

    After the parent has gone the process is re-parented (to init or a subreaper),
    so a changed ``getppid()`` means nobody will ever send the signal.
    """
    if os.getppid() != expected_parent_pid:
        os._exit(1)


def child_dies_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A ``preexec_fn`` for ``subprocess``: the child receives ``sig`` when we die.

    ``sig`` is chosen per program: PostgreSQL's postmaster treats SIGINT as "fast
    shutdown" (terminate sessions, checkpoint, exit), which is what we want when
    the supervisor vanishes; SIGTERM would wait for clients to disconnect.
    """
    parent_pid = os.getpid()

    def arm_death_signal() -> None:
        set_parent_death_signal(sig)
        exit_if_parent_gone(parent_pid)

    return arm_death_signal
