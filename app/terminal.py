"""What the CLI prints to: the output and error consoles, and the one place where errors a
user can cause become a single `error: ...` line and exit code 1."""

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from app.startup import CannotStart
from ingest.errors import IngestError
from vectorstore.errors import VectorStoreError

console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


def fail(message: str) -> None:
    """Print `error: message` on stderr."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Map the errors a user can cause to `error: ...` on stderr and exit code 1."""
    try:
        yield
    except (CannotStart, VectorStoreError, IngestError, ValueError, OSError) as e:
        fail(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
        raise typer.Exit(1) from None
