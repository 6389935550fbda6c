"""`sleuth serve`: the retrieval API under uvicorn, optionally watching a folder.

Options left out fall back to the environment (`SLEUTH_*`) and `sleuth.toml`. The port,
the data directory and the watched folder are checked before anything starts (one line
and exit 1 if one is wrong), and the socket is bound here and handed to uvicorn, so no
other process can take the port in between.
"""

import os
import threading
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from app.main import create_app
from app.settings import Settings
from app.startup import check_data_dir, check_folder, listening_socket
from app.supervise import STOP_SECONDS
from app.terminal import fail, one_line_errors


class BoundedStopServer(uvicorn.Server):
    """uvicorn's server, whose process ends at most STOP_SECONDS after the first stop
    signal whatever is still running (an ingest job mid-file: the store's write-ahead log
    keeps everything acknowledged, and the job's files can be uploaded again)."""

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            deadline = threading.Timer(STOP_SECONDS, _exit_now)
            deadline.daemon = True
            deadline.start()
        super().handle_exit(sig, frame)


def _exit_now() -> None:
    fail(f"still stopping after {STOP_SECONDS} s: exiting now")
    os._exit(1)


def serve(
    host: Annotated[str | None, typer.Option(help="Address to bind (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind (default 8000).")] = None,
    data: Annotated[
        Path | None, typer.Option("--data", help="Data directory of the store (default data).")
    ] = None,
    watch: Annotated[
        Path | None, typer.Option(help="Folder to keep in sync while serving.")
    ] = None,
    collection: Annotated[
        str | None, typer.Option("--collection", "-c", help="Collection the watched folder feeds.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="Serve the collections of the Ray cluster at this "
                     "address (host:port, or auto), sharded and replicated."),
    ] = None,
    access_log: Annotated[
        bool, typer.Option(help="Log every request (off by default: /metrics counts them).")
    ] = False,
    log_level: Annotated[
        str, typer.Option(help="uvicorn's log level: critical, error, warning, info, debug.")
    ] = "info",
) -> None:
    """Run the retrieval API (Ctrl-C stops); `--watch PATH` keeps a folder in sync too."""
    given = {
        "host": host, "port": port, "data_dir": data, "watch": watch,
        "watch_collection": collection, "cluster": cluster,
    }
    with one_line_errors():
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
        if settings.watch is not None:
            check_folder(settings.watch, "folder to watch")
        check_data_dir(settings.data_dir)
        sock = listening_socket(settings.host, settings.port, "--port")
    config = uvicorn.Config(create_app(settings), host=settings.host, port=settings.port,
                            log_level=log_level, access_log=access_log,
                            timeout_graceful_shutdown=1)
    with sock:
        BoundedStopServer(config).run(sockets=[sock])
