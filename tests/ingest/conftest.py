"""Fixtures for ingest tests: the real model once per session, builders for real files."""

import os
from datetime import datetime
from pathlib import Path

import docx
import pytest
from fpdf import FPDF
from fpdf.enums import EncryptionMethod

from ingest.chunking import ChunkConfig, Chunker
from ingest.embedding import Embedder, shared_embedder
from ingest.pipeline import Ingestor
from ingest.store import open_collection
from vectorstore import Database

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """all-MiniLM-L6-v2 from the bundled package, loaded once for the whole session."""
    return shared_embedder()


@pytest.fixture(scope="session")
def tokenizer(embedder):
    return embedder.tokenizer


@pytest.fixture
def chunker(embedder) -> Chunker:
    return Chunker(embedder.tokenizer, *ChunkConfig().resolve(embedder.max_tokens))


@pytest.fixture
def db(tmp_path):
    with Database(tmp_path / "data") as database:
        yield database


@pytest.fixture
def collection(db, embedder):
    return open_collection(db, "docs", embedder)


@pytest.fixture
def ingestor(collection, embedder):
    """An ingestor with one parser process, as on a two-core machine."""
    with Ingestor(collection, embedder, workers=1) as ingestor:
        yield ingestor


@pytest.fixture
def docs(tmp_path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def write_pdf(
    path: Path, pages: list[str], *, title: str | None = None, user_password: str | None = None,
    author: str | None = None, created: datetime | None = None,
) -> Path:
    """A PDF with one page per item of `pages` (an empty item makes a page with no text).

    fpdf2 always records a creation date: `created`, else the time of writing.
    """
    pdf = FPDF()
    if title:
        pdf.set_title(title)
    if author:
        pdf.set_author(author)
    if created:
        pdf.set_creation_date(created)
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 6, text)
    if user_password is not None:
        pdf.set_encryption(
            owner_password="owner",
            user_password=user_password,
            encryption_method=EncryptionMethod.AES_256,
        )
    path.write_bytes(bytes(pdf.output()))
    return path


def write_docx(
    path: Path, items: list[tuple[str, str]], *, title: str | None = None,
    author: str | None = None, created: datetime | None = None,
) -> Path:
    """A DOCX from (style, text) items: style "Heading N", "Title" or "" for body text.

    Properties not given keep python-docx's template values.
    """
    document = docx.Document()
    if title:
        document.core_properties.title = title
    if author:
        document.core_properties.author = author
    if created:
        document.core_properties.created = created
    for style, text in items:
        if style.startswith("Heading"):
            document.add_heading(text, level=int(style.split()[1]))
        elif style == "Title":
            document.add_heading(text, level=0)
        else:
            document.add_paragraph(text)
    document.save(str(path))
    return path


def sentences(topic: str, n: int) -> str:
    """`n` distinct plain sentences about `topic`."""
    return " ".join(f"Fact {i} about {topic} is recorded here for testing." for i in range(n))
