"""Rules every store state machine shares: seal, compact, reopen, and the teardown. A
machine mixing these in keeps `self.db`, `self.col` (collection "c") and `self.path`."""

import shutil

from hypothesis.stateful import rule

from vectorstore import Database


class LifecycleRules:
    @rule()
    def flush(self) -> None:
        self.col.flush()

    @rule()
    def compact(self) -> None:
        self.col.compact()

    @rule()
    def reopen(self) -> None:
        self.db.close()
        self.db = Database(self.path)
        self.col = self.db.get_collection("c")

    def teardown(self) -> None:
        self.db.close()
        shutil.rmtree(self.path, ignore_errors=True)
