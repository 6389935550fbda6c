"""Parsing side of the pipeline: file -> loader -> chunks, as a stream of messages.

`parse` is a plain generator, run in-process or in a worker process; a worker pushes its
messages through a bounded queue, so a fast parser waits for the embedder instead of
piling chunks up in memory. Every message is a tuple whose first item is its kind:

    ("start", task)                    parsing began
    ("chunks", task, [Chunk, ...])     the next chunks, in order
    ("done", task, [warning, ...])     all chunks sent
    ("failed", task, reason)           the file cannot be ingested; chunks sent are void

The pipeline adds ("tick", None) while it waits on the pool, so its consumer can stop.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from multiprocessing.queues import Queue

from ingest.chunking import Chunker, chunk_document
from ingest.errors import LoadError
from ingest.files import FileInfo
from ingest.limits import DEFAULT_LIMITS, Limits, check_chunks
from ingest.loaders import load

CHUNKS_PER_MESSAGE = 64

Message = tuple


@dataclass(frozen=True, slots=True)
class ParseTask:
    """One file to parse: `key` names it in messages."""

    key: int
    path: str
    info: FileInfo


def parse(
    task: ParseTask, chunker: Chunker, limits: Limits = DEFAULT_LIMITS
) -> Iterator[Message]:
    """The messages for one file; never raises, a failure is a "failed" message."""
    yield ("start", task.key)
    try:
        doc = load(task.path, limits)
        chunks = chunk_document(doc, task.info, chunker)
        sent = 0
        while batch := list(islice(chunks, CHUNKS_PER_MESSAGE)):
            sent += len(batch)
            check_chunks(sent, limits)
            yield ("chunks", task.key, batch)
    except LoadError as e:
        yield ("failed", task.key, str(e))
        return
    except RecursionError:
        yield ("failed", task.key, "structure nested too deeply to parse")
        return
    except Exception as e:  # a bad file must never stop the batch: report whatever it raised
        yield ("failed", task.key, describe(e))
        return
    if sent == 0:
        notes = f" ({'; '.join(doc.warnings)})" if doc.warnings else ""
        yield ("failed", task.key, f"no extractable text{notes}")
    else:
        yield ("done", task.key, list(doc.warnings))


def describe(error: BaseException) -> str:
    """A one-line reason for an unexpected error: its message, or its type if it has none."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower()
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


_chunker: Chunker | None = None
_queue: Queue | None = None
_limits: Limits = DEFAULT_LIMITS


def init_worker(chunker: Chunker, queue: Queue, limits: Limits) -> None:
    """Process-pool initializer: remember the chunker, the result queue and the limits."""
    global _chunker, _queue, _limits
    _chunker = chunker
    _queue = queue
    _limits = limits


def run_task(task: ParseTask) -> None:
    """Process-pool job: parse one file, pushing every message to the queue."""
    for message in parse(task, _chunker, _limits):
        _queue.put(message)
