"""Sleuth's embedded vector database: `from vectorstore import Database`."""

from .collection import Collection, Record
from .database import Database
from .search import Hit

__all__ = ["Collection", "Database", "Hit", "Record"]
