"""One exception hierarchy for the store; the app and CLI map these to HTTP and messages."""


class VectorStoreError(Exception):
    """Base of every error the store raises on purpose."""


class InvalidInput(VectorStoreError, ValueError):
    """A request the store rejects whole: nothing of it was applied."""


class DimensionMismatch(InvalidInput):
    """A vector whose length differs from the collection's dimension."""


class InvalidFilter(InvalidInput):
    """A `where` filter with an unknown operator, a bad shape or a type mismatch."""


class InvalidConfig(InvalidInput):
    """A collection or index configuration with unknown keys or bad values."""


class InvalidQuery(InvalidInput):
    """A search the store cannot run as asked: a text query with no searchable terms or
    too many, a mode or fusion knob it does not know."""


class TextIndexMissing(InvalidQuery):
    """A text or hybrid search on a collection that has no text index."""


class CollectionNotFound(VectorStoreError, KeyError):
    """No collection of that name in the database."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "collection not found"


class CollectionExists(VectorStoreError):
    """A collection of that name already exists."""


class CollectionSuperseded(VectorStoreError):
    """A write to a collection object whose generation was replaced (reindexed): get the
    collection from the database again."""


class CollectionBusy(VectorStoreError):
    """A collection already being rebuilt as a new generation in this process."""


class DatabaseLocked(VectorStoreError):
    """Another process owns the data directory."""


class CorruptFile(VectorStoreError):
    """A file on disk failed its magic, version or checksum check."""


class CorruptLog(CorruptFile):
    """A WAL record in the middle of the log failed its checksum."""


class StoreClosed(VectorStoreError):
    """The collection or database was closed."""


class WriteFailed(VectorStoreError):
    """A write could not be made durable (an I/O error on the WAL): nothing of it was
    applied, earlier writes are intact, and it can be retried."""


class StorageFull(WriteFailed):
    """A write failed because the disk is full; writes succeed again once space is freed."""


class MaintenanceFailed(VectorStoreError):
    """Background sealing or compaction is failing (the reason says why); every
    acknowledged write is still in the WAL and the worker keeps retrying."""
