"""The statistics row above the conversation: what a collection holds and its disk cost."""

from dataclasses import dataclass

from app.schemas.collections import CollectionInfo

_UNITS = ("B", "KB", "MB", "GB", "TB")


@dataclass(frozen=True)
class Stat:
    """One figure of the row: what `st.metric` shows."""

    label: str
    value: str
    help: str | None = None


def human_size(n: int) -> str:
    """Bytes in powers of 1024, two or three significant figures: 512 B, 1.5 KB, 42 MB."""
    size, unit = float(n), _UNITS[0]
    for unit in _UNITS:
        if size < 1024 or unit == _UNITS[-1]:
            break
        size /= 1024
    if unit == _UNITS[0]:
        return f"{n} B"
    return f"{size:.1f} {unit}" if size < 10 else f"{size:.0f} {unit}"


def collection_stats(info: CollectionInfo | None) -> list[Stat]:
    """Documents, chunks, index segments, disk size, index type, dimension.

    A collection not created yet (None) holds nothing and has no configuration ("-").
    """
    if info is None:
        return [Stat("Documents", "0"), Stat("Chunks", "0"), Stat("Segments", "0"),
                Stat("Disk", "-"), Stat("Index", "-"), Stat("Dimension", "-")]
    growing = (f"; {info.growing_rows} newer chunks wait in the growing segment, "
               "searched exactly until it is sealed" if info.growing_rows else "")
    return [
        Stat("Documents", str(info.documents)),
        Stat("Chunks", str(info.count)),
        Stat("Segments", str(info.segments), f"Sealed index segments{growing}."),
        Stat("Disk", human_size(info.disk_bytes), "Sealed segments plus the write-ahead log."),
        Stat("Index", str(info.index.get("type", "?"))),
        Stat("Dimension", str(info.dimension)),
    ]
