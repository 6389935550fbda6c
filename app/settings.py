"""Server settings: environment variables (prefix `SLEUTH_`) over an optional TOML file.

The TOML file is `sleuth.toml` in the working directory, or the path in `SLEUTH_CONFIG`;
its keys are the field names below (`data_dir = "data"`, `api_key = "..."`). The app reads
settings only through `get_settings()`, cached, so tests override that one function.
"""

import os
from dataclasses import fields
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from ingest.embedding import BACKENDS, DEFAULT_BACKEND
from ingest.limits import DEFAULT_LIMITS, Limits

CONFIG_ENV = "SLEUTH_CONFIG"
DEFAULT_CONFIG = "sleuth.toml"


class Settings(BaseSettings):
    """Everything the server needs to start; validated once, frozen."""

    model_config = SettingsConfigDict(env_prefix="SLEUTH_", frozen=True, extra="forbid")

    data_dir: Path = Field(Path("data"), description="Directory of the vector store.")
    model: str | None = Field(
        None, description="Embedding model name or path; None for bundled all-MiniLM-L6-v2."
    )
    embedding_backend: Literal[BACKENDS] = Field(
        DEFAULT_BACKEND, description="How the model runs: PyTorch, ONNX Runtime, or ONNX "
        "Runtime with int8 weights (fastest at equal quality on the benchmarks)."
    )
    api_key: SecretStr | None = Field(
        None, description="When set, every route but /health needs this key."
    )
    max_upload_bytes: int = Field(20 << 20, gt=0, description="Largest file one upload takes.")
    max_upload_files: int = Field(20, gt=0, description="Most files in one upload request.")
    max_request_bytes: int = Field(
        64 << 20, gt=0, description="Largest request body of any kind, checked while reading."
    )
    ingest_workers: int = Field(
        1, ge=0, description="Parser processes per ingest job (0: parse in the server process)."
    )
    ingest_jobs: int = Field(
        2, ge=1, description="Upload jobs ingested at once (each one file at a time), so one "
        "large file never holds up every other upload."
    )
    job_timeout: float = Field(
        3600.0, gt=0, description="Seconds an upload job may run; then its files left fail."
    )
    max_unzipped_bytes: int = Field(
        DEFAULT_LIMITS.max_unzipped_bytes, gt=0,
        description="Largest inflated size of a zip container (DOCX).",
    )
    max_zip_ratio: float = Field(
        DEFAULT_LIMITS.max_zip_ratio, gt=0,
        description="Largest inflated-to-compressed ratio of a zip container past 1 MiB.",
    )
    max_file_chars: int = Field(
        DEFAULT_LIMITS.max_file_chars, gt=0, description="Most characters of text per file."
    )
    max_pdf_pages: int = Field(DEFAULT_LIMITS.max_pdf_pages, gt=0, description="Most PDF pages.")
    max_document_chunks: int = Field(
        DEFAULT_LIMITS.max_document_chunks, gt=0, description="Most chunks per document."
    )
    expose_paths: bool = Field(
        False, description="Show documents' absolute paths on the server in hits and lists."
    )
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    cors_origins: list[str] = Field(
        default_factory=list, description="Origins allowed by CORS; empty turns CORS off."
    )
    watch: Path | None = Field(None, description="Folder kept in sync while the server runs.")
    watch_collection: str = Field("docs", description="Collection the watched folder feeds.")
    cluster: str | None = Field(
        None, description="Ray cluster address (host:port, or auto): collections are sharded "
        "and replicated over it instead of kept in data_dir (needs the cluster extra)."
    )
    cluster_data_dir: Path | None = Field(
        None, description="Directory on each cluster node for the replicas it holds "
        "(default ~/.sleuth/cluster)."
    )
    memory_budget: int | None = Field(
        None, ge=0, description="Bytes each collection of the local store may keep resident; "
        "its diskann segments' node caches share what the rest leaves (None: no budget)."
    )
    mcp_ingest: bool = Field(
        False, description="Give MCP clients the ingest and delete_document tools (off: an "
        "agent should not write to the index unasked)."
    )

    @property
    def limits(self) -> Limits:
        """The extraction limits, as the ingest pipeline takes them."""
        return Limits(**{f.name: getattr(self, f.name) for f in fields(Limits)})

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments first, then the environment, then the TOML file, then defaults."""
        toml_file = Path(os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file))


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()
