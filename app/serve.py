"""`sleuth serve`: the retrieval API under uvicorn, optionally watching a folder.

Options left out fall back to the environment (`SLEUTH_*`) and `sleuth.toml`.
"""

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.main import create_app
from app.settings import Settings


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
    access_log: Annotated[
        bool, typer.Option(help="Log every request (off by default: /metrics counts them).")
    ] = False,
) -> None:
    """Run the retrieval API (Ctrl-C stops); `--watch PATH` keeps a folder in sync too."""
    given = {
        "host": host, "port": port, "data_dir": data, "watch": watch,
        "watch_collection": collection,
    }
    settings = Settings(**{k: v for k, v in given.items() if v is not None})
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="info",
                access_log=access_log)
