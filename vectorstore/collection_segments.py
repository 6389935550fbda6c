"""A collection's segment lifecycle: loading sealed segments at open, freezing the full
growing segment, sealing it on the maintenance thread (`maintenance.py`), compaction,
text-index rebuilds, checkpoints, the manifest swaps that publish each, and the memory
budget of diskann node caches.

`Segments` is one part of `Collection` (`collection.py` holds its state and locks)."""

import logging
import os
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from pyroaring import BitMap

from .compaction import SegmentStats, plan_compaction, plan_growth
from .config import parse_text_config
from .errors import (
    InvalidConfig,
)
from .fsutil import fsync_tree
from .idtable import IdTable
from .maintenance import describe
from .manifest import NAME as MANIFEST
from .manifest import write_manifest
from .memory import cache_shares, segment_memory
from .segment import DECODE_BLOCK, GrowingSegment, SealedSegment, with_text, write_segment
from .snapshot import Snapshot, local_positions, rows_array
from .text.analyzer import Analyzer
from .text.postings import GrowingPostings, merge_postings

log = logging.getLogger("vectorstore.collection")


MAX_K = 10_000
MAX_PREALLOCATED = 1 << 16
"""Rows a growing segment reserves room for up front (it grows past them if needed)."""
MAX_PLANS = 16
"""Compaction plans carried out in one pass at most (each is made from what the last
left; a few suffice to converge)."""



def _link_or_copy(source: str, target: str) -> None:
    """Hard-link an immutable file, or copy it where links cannot go."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)



class Segments:
    """Freeze, seal, compact, rebuild the text index, checkpoint; the manifest."""

    def _remove_orphans(self) -> None:
        """Drop segment directories a crashed seal or compaction left unreferenced."""
        keep = set(self._manifest.segments)
        for path in (self.directory / "segments").iterdir():
            if path.name not in keep:
                shutil.rmtree(path)

    def _load_sealed(self) -> None:
        """Index the sealed segments' live rows at open: their ids into the id map's
        base, their payloads through their payload slices (a segment written before
        slices existed has its payloads decoded and indexed instead)."""
        self._index.swap_slices([], {seg.name: seg.payload_slice for seg in self._sealed
                                     if seg.payload_slice is not None})
        dead, parts = rows_array(self._dead), []
        for seg in self._sealed:
            keep = np.ones(len(seg), dtype=bool)
            keep[local_positions(seg.rowids, dead)] = False
            live = np.flatnonzero(keep)
            parts.append((*seg.id_strings(), live, seg.rowids[live]))
            for lo in range(0, live.size if seg.payload_slice is None else 0, DECODE_BLOCK):
                block = live[lo:lo + DECODE_BLOCK].tolist()
                for row, payload in zip(seg.rowids[block].tolist(), seg.payloads_at(block),
                                        strict=True):
                    self._index.add(row, [payload])
        self._ids.load(IdTable.from_segments(parts))

    def _new_growing(self) -> GrowingSegment:
        """An empty growing segment with room for a whole segment's rows (np.empty:
        memory is taken as rows are written), so appends never copy it under the
        writer lock."""
        return GrowingSegment(self.config.dim, self.metric, self._analyzer,
                              capacity=min(self.config.seal_rows, MAX_PREALLOCATED))

    def _maybe_freeze(self, force: bool = False) -> None:
        """Freeze the growing segment for sealing once it is full (writer lock held)."""
        if self._growing.length == 0 or (not force and
                                         self._growing.length < self.config.seal_rows):
            return
        self._syncs.drain()  # every staged batch durable and shown: freeze what readers see
        if self._growing.length == 0:  # a failed fsync rolled everything back
            return
        with self._state_lock:
            self._frozen.append((self._growing.view(), self._wal.next_seq - 1))
            self._growing = self._new_growing()
            self._commit()
        try:
            self._wal.rotate()
        except OSError as exc:  # the next append starts the new file instead
            log.warning("collection %r: WAL rotation failed: %s", self.name, describe(exc))
        self._maintenance.kick()

    def _maintain(self) -> None:
        """One maintenance pass: seal every frozen segment, then merge small ones."""
        while self._frozen and not self._dropped:
            self._seal_oldest()
        if not self._dropped:
            self._compact(force=False)

    def _segment_dir(self, number: int) -> Path:
        """A fresh directory name for segment `number` (leftovers of a failed attempt,
        never in the manifest, are removed)."""
        path = self.directory / "segments" / f"{number:012d}"
        shutil.rmtree(path, ignore_errors=True)
        return path

    def _seal_oldest(self) -> None:
        with self._maintenance_lock:
            view, end_seq = self._frozen[0]
            number = self._manifest.next_segment
            seg = write_segment(self._segment_dir(number), view.rowids, view.vectors,
                                view.ids[:len(view)], view.payload_bytes(), self.metric,
                                self.config.index,
                                None if view.text is None else view.text.sealed())
            self._install([seg], [], BitMap(), sealed_frozen=True, next_segment=number + 1,
                          checkpoint_seq=end_seq, next_rowid=int(view.rowids[-1]) + 1)
            self._wal.retire(end_seq)

    def _install(self, news: list[SealedSegment], olds: list[SealedSegment], dropped: BitMap,
                 sealed_frozen: bool = False, **changes: Any) -> None:
        """Swap sealed segments: the manifest first (so a failure leaves memory and disk
        as they were, and the new files are removed), then memory (maintenance lock held).
        `sealed_frozen`: the new segment is the oldest frozen one, which leaves the list."""
        sealed = [seg for seg in self._sealed if seg not in olds] + news
        sealed.sort(key=lambda s: int(s.rowids[0]))
        try:
            self._write_manifest(segments=tuple(seg.name for seg in sealed), dropped=dropped,
                                 **changes)
        except BaseException:
            for seg in news:
                shutil.rmtree(seg.directory, ignore_errors=True)
            raise
        self._swap_slices(olds, news)
        with self._state_lock:
            self._sealed = tuple(sealed)
            if sealed_frozen:
                self._frozen.pop(0)
            if dropped:
                self._dead -= dropped
                self._committed = replace(self._committed, dead=self._committed.dead - dropped)
            self._publish()
        self._apportion_memory()

    def _swap_slices(self, olds: list[SealedSegment] | tuple[SealedSegment, ...],
                     news: list[SealedSegment]) -> None:
        """Answer filters from the new segments' payload slices instead of the old ones'
        (the same live rows), in one step under the payload index's lock."""
        self._index.swap_slices([seg.name for seg in olds],
                                {seg.name: seg.payload_slice for seg in news
                                 if seg.payload_slice is not None})

    def _buffer_bytes(self) -> int:
        """RAM the write buffer may take before it is sealed (seal_rows float32 rows)."""
        return self.config.seal_rows * self.dim * 4

    def _apportion_memory(self) -> None:
        """Give the diskann segments' node caches what the memory budget leaves after
        every other resident byte (no-op without a budget)."""
        if self.memory_budget is None:
            return
        sealed = [segment_memory(seg) for seg in self._sealed]
        fixed = self._buffer_bytes() + sum(s.resident_bytes - s.cache_bytes for s in sealed)
        cached = [seg for seg in self._sealed if hasattr(seg.index, "resize_cache")]
        shares = cache_shares(self.memory_budget, fixed, [len(seg) for seg in cached])
        for seg, share in zip(cached, shares, strict=True):
            seg.index.resize_cache(share)

    def _write_manifest(self, dropped: BitMap | None = None, **changes: Any) -> None:
        """Persist the manifest with the committed tombstones (less `dropped`) and
        `changes` (maintenance lock held).

        Tombstones may run ahead of the checkpoint: replaying the WAL after it re-applies
        the same deletes, so they are idempotent. Staged, not yet durable deletes are
        never written.
        """
        with self._state_lock:
            dead = self._committed.dead - (dropped or BitMap())
            changes.setdefault("segments", tuple(seg.name for seg in self._sealed))
        manifest = replace(self._manifest, tombstones=dead, **changes)
        write_manifest(self.directory, manifest)
        self._manifest = manifest

    def flush(self) -> None:
        """Seal the growing segment now and wait until every pending seal is on disk.

        Raises MaintenanceFailed if a seal fails meanwhile (the data stays in the WAL and
        the worker retries) instead of waiting for ever."""
        with self._write_lock:
            self._check_open()
            self._maybe_freeze(force=True)
        self._maintenance.wait(lambda: not self._frozen)

    def build_text_index(self, text: Any = True) -> None:
        """(Re)build the text index from the stored payloads with `text` (True for the
        defaults, a TextConfig or an object of its keys): for a collection created before
        text indexes existed, or to change its fields or analyzer.

        Writes wait until it is done; searches go on against the old snapshot. Each
        sealed segment is copied (hard links) with new postings, then the manifest
        swaps config and segments at once, so a crash leaves the old index or the new.
        """
        config = parse_text_config(text)
        if config is None:
            raise InvalidConfig("build_text_index needs a text configuration, e.g. True")
        analyzer = Analyzer(config)
        with self._write_lock:
            self._check_open()
            self._maybe_freeze(force=True)
            self._syncs.drain()
            self._maintenance.wait(lambda: not self._frozen)
            with self._maintenance_lock:
                olds, news = self._sealed, []
                number = self._manifest.next_segment
                for seg in olds:
                    postings = GrowingPostings(analyzer)
                    postings.append(seg.payloads())
                    news.append(with_text(seg, self._segment_dir(number),
                                          postings.view().sealed()))
                    number += 1
                config = replace(self.config, text=config)
                try:
                    self._write_manifest(segments=tuple(seg.name for seg in news),
                                         config=config, next_segment=number)
                except BaseException:
                    for seg in news:
                        shutil.rmtree(seg.directory, ignore_errors=True)
                    raise
                self._swap_slices(olds, news)
                with self._state_lock:  # one snapshot: segments, analyzer, growing rows
                    self.config, self._analyzer, self._sealed = config, analyzer, tuple(news)
                    self._growing = self._new_growing()
                    self._commit()
                for seg in olds:
                    shutil.rmtree(seg.directory, ignore_errors=True)

    def compact(self) -> None:
        """Rewrite sealed segments without their dead rows and merge small ones."""
        self.flush()
        self._compact(force=True)

    def checkpoint(self, target: Path) -> None:
        """Write a copy of this collection as of one moment to the new directory `target`,
        openable like the original (a backup, or a replica catching up from a peer).

        Writes and maintenance wait meanwhile: the sealed segments, immutable, are
        hard-linked (copied across file systems), the manifest and the WAL are copied.
        Records staged by a write whose fsync is still running are copied too: the copy
        may hold a batch not yet acknowledged, never lack one that was.
        """
        with self._write_lock, self._maintenance_lock:
            self._check_open()
            target.mkdir(parents=True)
            shutil.copytree(self.directory / "segments", target / "segments",
                            copy_function=_link_or_copy)
            shutil.copytree(self.directory / "wal", target / "wal")
            shutil.copy2(self.directory / MANIFEST, target / MANIFEST)
        fsync_tree(target)

    def _compact(self, force: bool) -> None:
        """Carry out compaction plans until there is none: small segments merged, dirty
        ones rewritten, then, for an index that grows, full segments grown into older
        ones (each plan is made from the segments the previous one left)."""
        index = self.config.index
        target = index.merge_target(self.config.merge_rows)
        for _ in range(MAX_PLANS):
            with self._maintenance_lock:
                snap = self._snapshot
                stats = [SegmentStats(len(seg),
                                      local_positions(seg.rowids, snap.dead_rows()).size)
                         for seg in snap.sealed]
                plan = plan_compaction(stats, target, min_small=index.merge_after, force=force)
                if not plan and index.grow_fraction is not None:
                    plan = plan_growth(stats, target, index.grow_fraction)
                for group in reversed(plan):
                    self._rewrite(snap, group)
            if not plan or self._dropped:
                return

    def _rewrite(self, snap: Snapshot, group: list[int]) -> None:
        """Replace the sealed segments at positions `group` by one holding their live
        rows (maintenance lock held). An hnsw graph of a first segment with no dead rows
        is grown by the others' rows instead of rebuilt."""
        olds = [snap.sealed[i] for i in group]
        dead = [local_positions(seg.rowids, snap.dead_rows()) for seg in olds]
        keep = [np.setdiff1d(np.arange(len(seg)), gone)
                for seg, gone in zip(olds, dead, strict=True)]
        dropped = BitMap(np.concatenate([seg.rowids[gone] for seg, gone in
                                         zip(olds, dead, strict=True)]))
        number = self._manifest.next_segment
        news = []
        if sum(live.size for live in keep):
            news.append(write_segment(
                self._segment_dir(number),
                np.concatenate([seg.rowids[live] for seg, live in zip(olds, keep, strict=True)]),
                [(seg.vectors, live) for seg, live in zip(olds, keep, strict=True)],
                [seg.record_id(i) for seg, live in zip(olds, keep, strict=True) for i in live],
                [seg.payload_bytes(i) for seg, live in zip(olds, keep, strict=True)
                 for i in live],
                self.metric, self.config.index,
                None if self._analyzer is None else
                merge_postings([(seg.text, live) for seg, live in zip(olds, keep, strict=True)]),
                grow=olds[0].index if olds[0].index.kind == "hnsw" and not dead[0].size
                else None))
        self._install(news, olds, dropped, next_segment=number + len(news))
        self._index.drop_rows(dropped)
        for seg in olds:
            shutil.rmtree(seg.directory, ignore_errors=True)

