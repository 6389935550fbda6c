"""The text index beside the vectors: analyzer, postings and BM25F search.

`TextConfig` (in `vectorstore/config.py`) says which payload fields are indexed and how
text becomes terms; `analyzer.py` turns text into terms; `postings.py` holds a segment's
postings (growing in memory, sealed as memory-mapped arrays); `search.py` scores a
snapshot's segments with collection-wide statistics. Kernels: `kernels/bm25.py`.
"""
