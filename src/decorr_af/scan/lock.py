"""One writer per scan directory: an advisory lock file naming its holder.

``out/.scan.lock`` is locked with ``fcntl.flock`` for as long as a scan (or the
dashboard's "train this λ") writes to ``out``; the file holds the holder's
host, pid and start time, so a second writer is refused with a message naming
them. The kernel drops the lock when the holder dies (``kill -9``, a crashed
notebook), so a lock left behind by a dead process is stale by construction:
its file stays, with the dead holder's details, and the next scan takes it.
The file itself is never removed (removing it would let two processes lock two
different files).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import socket
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from decorr_af.errors import ScanLockedError

__all__ = ["LOCK_FILE", "lock_holder", "scan_lock"]

LOCK_FILE = ".scan.lock"


def lock_holder(directory: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The holder recorded in ``directory/.scan.lock`` (``None`` if none or unreadable).

    The record is the last holder's; it may be a process that is gone.

    Examples
    --------
    >>> lock_holder("/nonexistent") is None
    True
    """
    try:
        data = json.loads((Path(directory) / LOCK_FILE).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _describe(holder: dict[str, Any] | None) -> str:
    if not holder:
        return "another process"
    since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("since", 0)))
    return f"pid {holder.get('pid')} on host {holder.get('host')} (since {since})"


@contextlib.contextmanager
def scan_lock(directory: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold the write lock of a scan directory (created if needed).

    Raises
    ------
    ScanLockedError
        At once, naming the holder, if another process holds the lock.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> with scan_lock(d):
    ...     lock_holder(d)["pid"] == os.getpid()
    True
    """
    import fcntl

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / LOCK_FILE
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ScanLockedError(
                f"scan directory {directory} is being written by {_describe(lock_holder(directory))}"
                f" (lock file {path}); wait for that scan to finish or use another output "
                "directory"
            ) from None
        except OSError as err:
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            warnings.warn(
                f"{path}: this filesystem does not support file locks; make sure only one "
                "scan writes to this directory",
                RuntimeWarning,
                stacklevel=3,
            )
        record = {"host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(record).encode(), 0)
        yield path
    finally:
        os.close(fd)  # releases the flock
