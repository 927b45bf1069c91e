"""Reading files a user names, safely: regular files only, never more bytes than allowed."""

from __future__ import annotations

import errno
import os
import stat as _stat
from pathlib import Path


def read_limited(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of a regular file, refusing special files (a FIFO, /dev/zero) and reading at most `limit`.

    The size reported by stat is not trusted: at most limit + 1 bytes are read, and more is refused.
    Raises OSError subclasses for unreadable paths and ValueError for a special or too-large file.
    """
    path = Path(path)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    fd = os.open(path, flags)  # non-blocking: opening a FIFO with no writer must not hang
    try:
        st = os.fstat(fd)
        if _stat.S_ISDIR(st.st_mode):
            raise IsADirectoryError(errno.EISDIR, "is a folder", str(path))
        if not _stat.S_ISREG(st.st_mode):
            raise ValueError("not a regular file (a device, pipe or socket); only files are read")
        if st.st_size > limit:
            raise ValueError(f"{st.st_size:,} bytes is too large (at most {limit // 2**20} MB)")
        os.set_blocking(fd, True)
        chunks, n = [], 0
        while n <= limit:
            chunk = os.read(fd, min(1 << 20, limit + 1 - n))
            if not chunk:
                break
            chunks.append(chunk)
            n += len(chunk)
        if n > limit:
            raise ValueError(f"more than {limit // 2**20} MB; too large")
        return b"".join(chunks)
    finally:
        os.close(fd)
