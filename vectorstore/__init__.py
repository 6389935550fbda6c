"""Sleuth's embedded vector database: `from vectorstore import Database`."""

from .collection import Collection, Hit, Record
from .database import Database

__all__ = ["Collection", "Database", "Hit", "Record"]
