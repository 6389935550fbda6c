"""Checks `sleuth serve`, `ui` and `up` make before they start anything, so that a taken
port, a data directory held by another process or not writable, or a missing folder is
one clear line and a non-zero exit rather than a traceback from deep inside a server."""

import errno
import socket
from pathlib import Path

from vectorstore import Database
from vectorstore.errors import DatabaseLocked


class CannotStart(Exception):
    """A reason a command cannot start, in one line that says what to do."""


def listening_socket(host: str, port: int, option: str) -> socket.socket:
    """A socket bound to (host, port), as servers bind (SO_REUSEADDR), for the caller to
    serve on or to close; CannotStart naming the port and `option` if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise CannotStart(f"port {port} on {host} is already in use (another server?): "
                              f"stop it or choose another port with {option}") from None
        raise CannotStart(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return sock


def check_port(host: str, port: int, option: str) -> None:
    """CannotStart if nothing could listen on (host, port) now."""
    listening_socket(host, port, option).close()


def check_data_dir(path: Path) -> None:
    """Open and release the store at `path` (cheap: collections open lazily): CannotStart
    if another process holds it or it cannot be created or written."""
    try:
        Database(path).close()
    except DatabaseLocked as e:
        raise CannotStart(f"data directory {e}: stop that process or pass --data DIR") from None
    except OSError as e:
        reason = e.strerror or str(e)
        raise CannotStart(f"data directory {path} cannot be written: {reason}"
                          f"{f' ({e.filename})' if e.filename else ''}") from None


def check_folder(path: Path, what: str) -> None:
    """CannotStart unless `path` is an existing folder."""
    if not path.is_dir():
        state = "is not a folder" if path.exists() else "does not exist"
        raise CannotStart(f"{what} {path} {state}")
