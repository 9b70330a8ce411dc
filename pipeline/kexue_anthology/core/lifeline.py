"""Worker processes that end with the command, however it ends (even `kill -9`).

Linux kills a process whose parent ends when the process has asked for it (`prctl`'s
PR_SET_PDEATHSIG); the request survives `exec`.  A Python worker asks for itself
(`die_with_parent`, the WeasyPrint pool's initializer); a program such as Node cannot, so it is
started through a few lines of Python that ask and then become the program (`tied`).  Either
way the parent's id is checked after asking: a parent that died before the request would
never send the signal.  A short-lived program (`tied(..., brief=True)`: pandoc, once per post) is
started through util-linux's `setpriv --pdeathsig KILL` when it is there, a C program that
starts in a millisecond where Python takes about 17: it does not check the parent, so a program
started just as its parent died runs to its end (seconds) before it ends too.  The "parent"
Linux watches is the thread that started the process, so a worker must be started by a thread
that outlives it (every worker here is stopped by the code that started it).  Elsewhere than Linux these do nothing.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import subprocess
import sys

PR_SET_PDEATHSIG = 1

# Run by `python -c`: argv is [-c, parent's pid, program, args…].  No imports beyond ctypes.
_LAUNCH = ("import ctypes, os, signal, sys\n"
           "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)\n"
           "if os.getppid() != int(sys.argv[1]): os._exit(1)\n"
           "os.execv(sys.argv[2], sys.argv[2:])\n")


def supported() -> bool:
    return sys.platform.startswith("linux")


def die_with_parent(parent: int, sig: int = signal.SIGKILL) -> None:
    """Have this process get `sig` when the thread that started it ends; end now when its
    parent `parent` has ended already (this process was handed to another)."""
    if not supported():
        return
    import ctypes
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


def tied(argv: list[str], brief: bool = False) -> list[str]:
    """The command line that runs `argv` (its program a path, or a name found on PATH) as a
    process that is killed when this one ends; through `setpriv` when `brief` (the program ends
    by itself soon) and setpriv is installed."""
    program = shutil.which(argv[0]) if argv else None
    if not supported() or program is None:
        return argv
    if brief and (setpriv := _setpriv()):
        return [setpriv, "--pdeathsig", "KILL", "--", os.path.abspath(program), *argv[1:]]
    if not sys.executable:
        return argv
    return [sys.executable, "-I", "-S", "-c", _LAUNCH, str(os.getpid()), os.path.abspath(program), *argv[1:]]


@functools.cache
def _setpriv() -> str | None:
    """util-linux's setpriv when it knows --pdeathsig (2.33 and later), else None."""
    found, true = shutil.which("setpriv"), shutil.which("true")
    if found is None or true is None:
        return None
    try:
        done = subprocess.run([found, "--pdeathsig", "KILL", "--", true],
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return found if done.returncode == 0 else None
