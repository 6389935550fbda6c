"""What each search mode is for, on real MiniLM embeddings of a small operations handbook.

An option name, an error code and an identifier are each mentioned once, in passing, in a
long chunk about other things, while shorter chunks are about their topics without them:
vector search ranks the mention low, text search and hybrid find it first. A question
worded unlike its answer is missed by text search and found by vector and hybrid search.
"""

import pytest

from ingest.embedding import shared_embedder
from vectorstore import Database

_LIST = (
    "the exporter writes Parquet as well as CSV; the scheduler retries a failed job three "
    "times with a growing pause; the login page offers single sign-on through the company "
    "directory; dashboards load twice as fast because charts are drawn on demand; the audit "
    "log keeps ninety days of entries; reports can be mailed as PDF every Monday; the "
    "installer checks the free disk space before it starts; the Japanese and Korean "
    "translations were added by volunteers; {}; alerts can be sent to a chat channel; and "
    "the command line gained completion for every shell we support."
)

CHUNKS = {
    "release": ("Release notes", "Version 6", "Version 6 brings many changes: "
                + _LIST.format("the proxy accepts a new --fsync-interval flag")),
    "ticket": ("Support log", "March", "Notes from the March support rotation: "
               + _LIST.format("ticket 4411 was an import failing with SQLSTATE 23505")),
    "tooling": ("Changelog", "Tooling 3", "Tooling release 3 collects the small things: "
                + _LIST.format("the backup tool builds its file names with os.path.join")),
    "logins": ("Access control", "Login caps", "To keep the server from being overwhelmed, "
               "cap simultaneous logins per role with the connection limit setting."),
    "flush": ("Durability", "Flush timing", "How often the server forces its log to disk is a "
              "trade-off: forcing it at every commit is safest, forcing it on a timer is "
              "faster."),
    "grouped": ("Durability", "Grouped commits", "A timer of a few milliseconds groups many "
                "commits into one disk write and loses at most that much work in a crash."),
    "retry": ("Errors", "Retries", "Error 40001 means a serialization failure: run the whole "
              "transaction again after a short random back-off."),
    "classes": ("Errors", "Error classes", "Every database error carries a five-character "
                "state code; codes starting with 23 mean an integrity constraint was violated."),
    "unique": ("Errors", "Integrity errors", "A duplicate value in a unique index is reported "
               "with the integrity-violation state code of class 23; the statement is rolled "
               "back."),
    "separator": ("Scripts", "Separators", "Never glue a directory and a file name with a "
                  "slash by hand: the standard library helper inserts the right separator on "
                  "every platform."),
    "combine": ("Scripts", "File names", "Scripts glue a directory name and a file name "
                "together with the platform's separator to get a full location on disk."),
    "pooling": ("Connection pooling", "Pooling", "A connection pooler keeps a few server "
                "sessions open and lends them to application clients, so the server sees far "
                "fewer connections."),
    "sessions": ("Sessions", "Idle sessions", "Idle client sessions are closed after ten "
                 "minutes; long-running transactions keep their locks until they commit."),
    "recovery": ("Backups", "Disaster recovery", "Keep a copy of the backups in a second "
                 "region in case a flood or a fire destroys the data centre."),
    "who": ("Monitoring", "Who is connected", "To see who is connected right now, list the "
            "sessions per user and client address."),
    "roles": ("Security", "Roles", "Grant each application its own role with only the "
              "privileges it needs, and revoke access from roles nobody uses."),
}


@pytest.fixture(scope="module")
def embedder():
    """PyTorch's MiniLM: the ranks below are small-margin (the paraphrase's fused score is
    within 0.001 of the next), and int8 weights move such ties by a place."""
    return shared_embedder(backend="torch")


@pytest.fixture(scope="module")
def handbook(tmp_path_factory, embedder):
    payloads = [{"title": title, "heading_path": [title, heading], "text": text}
                for title, heading, text in CHUNKS.values()]
    with Database(tmp_path_factory.mktemp("modes")) as db:
        collection = db.create_collection("handbook", dim=embedder.dim)
        collection.upsert(list(CHUNKS), embedder.embed([p["text"] for p in payloads]),
                          payloads)
        yield collection, embedder


def ranks(handbook, query: str) -> dict[str, list[str]]:
    collection, embedder = handbook
    vector = embedder.embed_query(query)
    return {mode: [h.id for h in collection.search(vector, text=query, k=len(CHUNKS),
                                                   mode=mode)]
            for mode in ("vector", "text", "hybrid")}


@pytest.mark.parametrize(("query", "wanted"), [
    ("--fsync-interval", "release"),  # an option name
    ("SQLSTATE 23505", "ticket"),  # an error code
    ("os.path.join", "tooling"),  # an identifier
])
def test_exact_terms_vector_ranks_low_are_found_first_by_text_and_hybrid(handbook, query,
                                                                          wanted):
    found = ranks(handbook, query)
    assert found["vector"].index(wanted) >= 2, found["vector"]
    assert found["text"][0] == wanted
    assert found["hybrid"][0] == wanted


def test_a_paraphrase_text_misses_is_found_by_hybrid(handbook):
    found = ranks(handbook, "What stops a flood of users all signing in together?")
    assert found["text"] and "logins" not in found["text"]  # only chance words in common
    assert found["vector"][0] == "logins"
    assert "logins" in found["hybrid"][:3]
