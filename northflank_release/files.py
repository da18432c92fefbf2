"""The one way the action reads a file it was pointed at: a regular file, under a size limit, never blocking.

Whoever sets `request-file` or a CA-bundle variable may point it anywhere: at a FIFO (an open for reading
blocks until a writer comes), a device (/dev/zero never ends), /proc, or a file outside the workspace.
So the file is opened with O_NONBLOCK (which makes the open of a FIFO return at once, and means nothing for
a regular file), checked with fstat on what was opened, and read only up to its limit.
"""

from __future__ import annotations

import os
import stat

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


class FileRefused(Exception):
    """Why the file was not read, in words that quote none of its content."""


def read_regular_file(path: str, limit: int) -> bytes:
    """The content of the regular file at `path` (symlinks followed), at most `limit` bytes."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise FileRefused("does not exist") from None
    except (OSError, ValueError) as error:  # ValueError: a NUL in the path
        raise FileRefused(f"cannot be opened ({_reason(error)})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
            raise FileRefused(f"is {kind}, not a regular file")
        if info.st_size > limit:
            raise FileRefused(f"is {info.st_size} bytes long; at most {limit} are read")
        # Files in /proc say they are empty and are not: the limit is kept while reading too.
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(descriptor, min(65536, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise FileRefused(f"is more than {limit} bytes long")
        return b"".join(chunks)
    except OSError as error:
        raise FileRefused(f"cannot be read ({_reason(error)})") from None
    finally:
        os.close(descriptor)


def is_inside(path: str, folder: str) -> bool:
    """Whether `path`, every symlink resolved, is `folder` or lies under it (also resolved)."""
    real, root = os.path.realpath(path), os.path.realpath(folder)
    try:
        return os.path.commonpath([real, root]) == root
    except ValueError:  # one relative, one absolute, or different drives
        return False


def _reason(error: BaseException) -> str:
    number = getattr(error, "errno", None)
    return os.strerror(number) if isinstance(number, int) else error.__class__.__name__
