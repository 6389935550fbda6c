"""The server's own record of upload jobs and uploaded files, in `<data>/jobs.sqlite3`.

Two facts live here and nowhere else:
- **jobs**: every upload request's files, each queued -> running -> done | failed (with
  the reason), so a restart resumes or fails them instead of forgetting them;
- **uploads**: which stored file (a name the server generated under `uploads/<collection>/`)
  belongs to which document. Deleting or downloading a document's file goes through this
  table only: chunk payloads are data a key holder can write, never a path to act on.

A job and its uploads are written in one transaction. SQLite (WAL journal, full sync) makes
every change durable before the call returns; one connection, used under a lock.
"""

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.schemas.documents import FileStatus, JobInfo

FILE_NAME = "jobs.sqlite3"
KEEP_JOBS = 1000
"""Finished jobs kept for status queries; older ones are pruned as new ones arrive."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    collection TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS files (
    job TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    document_id TEXT,
    status TEXT NOT NULL,
    chunks INTEGER NOT NULL DEFAULT 0,
    reason TEXT NOT NULL DEFAULT '',
    attempts INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (job, position)
);
CREATE INDEX IF NOT EXISTS files_by_status ON files(status);
CREATE TABLE IF NOT EXISTS uploads (
    collection TEXT NOT NULL,
    document_id TEXT NOT NULL,
    stored TEXT NOT NULL,
    filename TEXT NOT NULL,
    job TEXT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (collection, document_id)
);
"""


@dataclass(frozen=True, slots=True)
class NewFile:
    """A file of a new job: stored under `stored` as document `document_id`, or refused
    (`stored` None) with `reason`."""

    filename: str
    document_id: str | None = None
    stored: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Upload:
    """An uploaded file on record: its document, stored name, original name, and job file."""

    collection: str
    document_id: str
    stored: str
    filename: str
    job: str
    position: int


@dataclass(frozen=True, slots=True)
class Pending:
    """A job file still to ingest (queued, or running when the server stopped)."""

    job: str
    position: int
    collection: str
    status: str
    attempts: int
    upload: Upload | None


class Registry:
    """The jobs and uploads tables of one data directory (whose lock the store holds)."""

    def __init__(self, data_dir: Path, keep: int = KEEP_JOBS) -> None:
        self._keep = keep
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            data_dir / FILE_NAME, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # ---- jobs -------------------------------------------------------------------

    def add_job(self, job_id: str, collection: str, files: list[NewFile]) -> list[Pending]:
        """Record a job, its files (refused ones already failed) and their uploads at once;
        returns the files to ingest."""
        queued = [
            Pending(job_id, position, collection, "queued", 0,
                    Upload(collection, f.document_id, f.stored, f.filename, job_id, position))
            for position, f in enumerate(files) if f.stored
        ]
        with self._transaction() as db:
            db.execute("INSERT INTO jobs (id, collection, created) VALUES (?, ?, ?)",
                       (job_id, collection, time.time()))
            for position, f in enumerate(files):
                status = "queued" if f.stored else "failed"
                db.execute(
                    "INSERT INTO files (job, position, filename, document_id, status, reason)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (job_id, position, f.filename, f.document_id, status, f.reason),
                )
                if f.stored:
                    db.execute(
                        "INSERT INTO uploads VALUES (?, ?, ?, ?, ?, ?)",
                        (collection, f.document_id, f.stored, f.filename, job_id, position),
                    )
            self._prune(db)
        return queued

    def _prune(self, db: sqlite3.Connection) -> None:
        """Drop the oldest finished jobs past `keep` (their uploads stay on record)."""
        db.execute(
            "DELETE FROM jobs WHERE seq <= (SELECT seq FROM jobs ORDER BY seq DESC"
            " LIMIT 1 OFFSET ?) AND NOT EXISTS (SELECT 1 FROM files WHERE files.job = jobs.id"
            " AND status IN ('queued', 'running'))",
            (self._keep,),
        )

    def start_file(self, job: str, position: int) -> None:
        """Mark a file running and count the attempt (a restart reads it)."""
        with self._transaction() as db:
            db.execute("UPDATE files SET status = 'running', attempts = attempts + 1"
                       " WHERE job = ? AND position = ?", (job, position))

    def requeue_file(self, job: str, position: int, *, uncount: bool) -> None:
        """A file queued again: after a crash (its attempt counted), or stopped by a
        shutdown (`uncount`: that attempt does not count)."""
        with self._transaction() as db:
            db.execute("UPDATE files SET status = 'queued', attempts = max(attempts - ?, 0)"
                       " WHERE job = ? AND position = ?", (int(uncount), job, position))

    def finished(self, job: str, position: int) -> bool:
        """Whether a job file is done or failed (a pruned job's files all were)."""
        with self._lock:
            row = self._db.execute("SELECT status FROM files WHERE job = ? AND position = ?",
                                   (job, position)).fetchone()
        return row is None or row[0] in ("done", "failed")

    def finish_file(self, job: str, position: int, chunks: int) -> None:
        with self._transaction() as db:
            db.execute("UPDATE files SET status = 'done', chunks = ?, reason = ''"
                       " WHERE job = ? AND position = ?", (chunks, job, position))

    def fail_file(self, job: str, position: int, reason: str) -> Upload | None:
        """Mark a file failed and take its upload off the record; returns that upload,
        whose stored file the caller removes (a crash before then leaves an orphan that
        the next start sweeps)."""
        with self._transaction() as db:
            db.execute("UPDATE files SET status = 'failed', reason = ?"
                       " WHERE job = ? AND position = ?", (reason, job, position))
            row = db.execute("SELECT * FROM uploads WHERE job = ? AND position = ?",
                             (job, position)).fetchone()
            if row is None:
                return None
            db.execute("DELETE FROM uploads WHERE job = ? AND position = ?", (job, position))
            return Upload(*row)

    def job(self, job_id: str) -> JobInfo | None:
        with self._lock:
            row = self._db.execute("SELECT id, collection, created FROM jobs WHERE id = ?",
                                   (job_id,)).fetchone()
            return None if row is None else self._view(row)

    def jobs(self, limit: int, collection: str | None = None) -> list[JobInfo]:
        """The most recent jobs first (of one collection when given)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, collection, created FROM jobs WHERE ?1 IS NULL OR collection = ?1"
                " ORDER BY seq DESC LIMIT ?2", (collection, limit),
            ).fetchall()
            return [self._view(row) for row in rows]

    def _view(self, row: tuple) -> JobInfo:
        files = [
            FileStatus(filename=f[0], document_id=f[1], status=f[2], chunks=f[3], reason=f[4])
            for f in self._db.execute(
                "SELECT filename, document_id, status, chunks, reason FROM files"
                " WHERE job = ? ORDER BY position", (row[0],),
            )
        ]
        return JobInfo.of(id=row[0], collection=row[1], created=row[2], files=files)

    def pending(self) -> list[Pending]:
        """Files queued or running, in submission order, with their uploads."""
        with self._lock:
            rows = self._db.execute(
                "SELECT f.job, f.position, j.collection, f.status, f.attempts, u.*"
                " FROM files f JOIN jobs j ON j.id = f.job LEFT JOIN uploads u"
                " ON u.job = f.job AND u.position = f.position"
                " WHERE f.status IN ('queued', 'running') ORDER BY j.seq, f.position"
            ).fetchall()
        return [
            Pending(*row[:5], Upload(*row[5:]) if row[5] is not None else None) for row in rows
        ]

    def active(self) -> int:
        """Files queued or running."""
        with self._lock:
            return self._db.execute(
                "SELECT count(*) FROM files WHERE status IN ('queued', 'running')"
            ).fetchone()[0]

    # ---- uploads ----------------------------------------------------------------

    def upload(self, collection: str, document_id: str) -> Upload | None:
        """The uploaded file of a document, if it was uploaded."""
        with self._lock:
            row = self._db.execute(
                "SELECT * FROM uploads WHERE collection = ? AND document_id = ?",
                (collection, document_id),
            ).fetchone()
        return None if row is None else Upload(*row)

    def uploads(self) -> list[Upload]:
        with self._lock:
            return [Upload(*row) for row in self._db.execute("SELECT * FROM uploads")]

    def forget_upload(self, collection: str, document_id: str) -> Upload | None:
        """Take a document's upload off the record; returns it (the caller removes the file)."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM uploads WHERE collection = ? AND document_id = ?",
                             (collection, document_id)).fetchone()
            db.execute("DELETE FROM uploads WHERE collection = ? AND document_id = ?",
                       (collection, document_id))
        return None if row is None else Upload(*row)

    def forget_collection(self, collection: str, reason: str) -> None:
        """A dropped collection: its uploads off the record, its unfinished files failed."""
        with self._transaction() as db:
            db.execute("DELETE FROM uploads WHERE collection = ?", (collection,))
            db.execute(
                "UPDATE files SET status = 'failed', reason = ? WHERE status IN"
                " ('queued', 'running') AND job IN (SELECT id FROM jobs WHERE collection = ?)",
                (reason, collection),
            )
