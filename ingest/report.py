"""What an ingest run did, file by file, and the progress it reports on the way."""

from dataclasses import dataclass, field

STATUSES = ("added", "updated", "unchanged", "removed", "failed")


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one file (by absolute path): a status from STATUSES, why it failed."""

    path: str
    status: str
    chunks: int = 0
    reason: str = ""
    warnings: tuple[str, ...] = ()


@dataclass
class IngestReport:
    """Every file's outcome, the chunks written and the wall time of the run."""

    results: list[FileResult] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0

    def of(self, status: str) -> list[FileResult]:
        """The results with `status`."""
        return [r for r in self.results if r.status == status]

    def counts(self) -> dict[str, int]:
        """How many files ended in each status, every status present."""
        return {s: len(self.of(s)) for s in STATUSES}

    def summary(self) -> str:
        """One line: the count per status and the chunk rate."""
        counts = ", ".join(f"{n} {s}" for s, n in self.counts().items())
        rate = self.chunks / self.seconds if self.seconds > 0 else 0.0
        return f"{counts}; {self.chunks} chunks in {self.seconds:.1f}s ({rate:.1f} chunks/s)"


@dataclass(frozen=True, slots=True)
class Progress:
    """Sent during a run: files finished out of those to parse, and chunks written so far."""

    files_done: int
    files_total: int
    chunks: int
