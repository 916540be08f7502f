"""The sandbox's files are its owner's alone: 0600 files, in 0700 directories when it makes them."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> None:
    """Make ``path`` and any missing parent, each 0700; an existing directory is left as it is."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for directory in reversed(missing):
        directory.mkdir(mode=DIR_MODE, exist_ok=True)


def private_file(path: Path) -> None:
    """Make ``path`` an owner-only file: created 0600 (never readable by others, not even for a
    moment), or narrowed to 0600 if it exists."""
    private_dir(path.parent)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    narrow(path)


def narrow(path: Path) -> None:
    """Take group and other permissions off an existing file (one an older run left open)."""
    try:
        if path.stat().st_mode & 0o077:
            path.chmod(FILE_MODE)
    except FileNotFoundError:
        pass
    except OSError as exc:  # a file system without Unix permissions
        log.warning("could not make %s owner-only: %s", path, exc)


def kept_key(path: Path, size: int = 32) -> bytes:
    """A random key made on first use and kept, 0600, in ``path``."""
    try:
        narrow(path)
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    private_dir(path.parent)
    key = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:  # another process made it first: theirs is the key
        return bytes.fromhex(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(key.hex() + "\n")
    return key
