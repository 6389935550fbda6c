"""Errors of the ingest layer; the CLI and the API map them to one-line messages."""


class IngestError(Exception):
    """Base of every error ingest raises on purpose."""


class LoadError(IngestError):
    """A file that cannot be turned into text; the message is the reason shown to the user."""


class ModelMismatch(IngestError):
    """A collection filled by one embedding model asked to take vectors from another."""


class ModelUnavailable(IngestError):
    """An embedding model that cannot be loaded: not on disk, nor cached when offline."""


class RecipeMismatch(IngestError):
    """A collection asked to take chunks cut or embedded another way than its recipe says."""
