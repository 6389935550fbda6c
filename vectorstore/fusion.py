"""Fusing the vector and the text ranking of a hybrid search into one.

Two methods, weights per call:
- "rrf", reciprocal rank fusion (Cormack et al. 2009): a candidate scores
  sum_i w_i / (rrf_k + rank_i) over the lists it is in (rank from 1). Only ranks count,
  so a cosine similarity and a BM25 score need no common scale.
- "blend": each list's scores are min-max normalised over its candidates to [0, 1]
  (1 = its best) and summed with the weights; a candidate missing from a list gets 0
  there. Score gaps count, so one list's clear winner can outweigh the other's ranks.

Each list brings its top `depth` candidates (at least k). With `coverage` (the default)
the text ranking's weight is scaled by how much of the query its best match covers
(`text.search.coverage`): a question whose words meet the text only by chance (a common
word or two) leans on meaning, one matched whole (an identifier, an index term) on words.

The defaults (RRF, rrf_k 20, text weight 2, coverage, depth 50) were chosen with
`python -m benchmarks.quality --fusion-grid`: the best worst-source ratio over the three
labelled documentation sets together (no setting per source); there, coverage changed
nothing (their queries are matched whole) and depths 30 to 100 scored alike, and 50 keeps
an HNSW search at its default beam.
"""

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .config import finite_number, from_dict
from .errors import InvalidQuery
from .kernels.fusion import fuse_rankings

METHODS = ("rrf", "blend")


@dataclass(frozen=True)
class Fusion:
    """How a hybrid search fuses its two rankings (see the module docstring)."""

    method: str = "rrf"
    vector_weight: float = 1.0
    text_weight: float = 2.0
    rrf_k: float = 20.0
    depth: int = 50
    coverage: bool = True

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidQuery(f"fusion.method must be one of {list(METHODS)}, "
                               f"got {self.method!r}")
        for name in ("vector_weight", "text_weight"):
            value = getattr(self, name)
            if not finite_number(value) or not 0 <= value <= 1000:
                raise InvalidQuery(f"fusion.{name} must be a number from 0 to 1000, "
                                   f"got {value!r}")
        if self.vector_weight == 0 and self.text_weight == 0:
            raise InvalidQuery("fusion weights cannot both be 0")
        if not finite_number(self.rrf_k) or not 0 <= self.rrf_k <= 10_000:
            raise InvalidQuery(f"fusion.rrf_k must be a number from 0 to 10000, "
                               f"got {self.rrf_k!r}")
        if not isinstance(self.coverage, bool):
            raise InvalidQuery(f"fusion.coverage must be true or false, got {self.coverage!r}")
        if not isinstance(self.depth, int) or isinstance(self.depth, bool) or \
                not 1 <= self.depth <= 10_000:
            raise InvalidQuery(f"fusion.depth must be an integer from 1 to 10000, "
                               f"got {self.depth!r}")


DEFAULT = Fusion()


def parse_fusion(spec: Any) -> Fusion:
    """A Fusion from None (the defaults), a Fusion, or an object of its keys; unknown
    keys are refused, naming the known ones."""
    if spec is None:
        return DEFAULT
    if isinstance(spec, Fusion):
        return spec
    if not isinstance(spec, dict):
        raise InvalidQuery(f"fusion must be an object, got {type(spec).__name__}")
    return from_dict(Fusion, spec, "fusion", InvalidQuery)


class Ranked(NamedTuple):
    """One ranking: keys (int64, best first), their scores, and how far to trust it
    (a text ranking's query coverage, 0 to 1; `Fusion.coverage`)."""

    keys: np.ndarray
    scores: np.ndarray
    higher_is_better: bool = True
    coverage: float = 1.0


class Fused(NamedTuple):
    """The fused ranking, best first: keys, fused scores, and each key's position in the
    vector and text rankings (-1 when absent)."""

    keys: np.ndarray
    scores: np.ndarray
    vector_pos: np.ndarray
    text_pos: np.ndarray


def fuse(vector: Ranked, text: Ranked, fusion: Fusion, k: int) -> Fused:
    """The top k of the two rankings fused by `fusion`. Ties go to the candidate with the
    better rank in either list, then the smaller key, so the order is deterministic."""
    def weight(ranked: Ranked, weight: float) -> float:
        return float(weight * ranked.coverage if fusion.coverage else weight)

    return Fused(*fuse_rankings(
        vector.keys, vector.scores, weight(vector, fusion.vector_weight),
        vector.higher_is_better, text.keys, text.scores, weight(text, fusion.text_weight),
        text.higher_is_better, fusion.method == "rrf", float(fusion.rrf_k), k))
