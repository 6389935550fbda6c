"""Sleuth's chat-search page: ask a collection questions, get answers citing their passages.

Start it with `sleuth ui` or `sleuth up`. It talks to the Sleuth API over HTTP only, through
`app.client`, at SLEUTH_API_URL (default http://127.0.0.1:8000); see `ui.config`.
The script runs top to bottom: API check, sidebar, statistics, documents, conversation;
the sidebar's list of conversations is filled last, so a conversation the question of this
run started is in it. Conversations are kept in SQLite (`ui.history`).
"""

from pathlib import Path

import httpx
import streamlit as st

from app.client import ApiError, SleuthClient
from ui import conversations, modes, view
from ui.chat import ask, generate
from ui.chat_endpoint import ChatEndpoint
from ui.config import load_config
from ui.documents import UPLOAD_TYPES, all_documents, ingest_uploads, limits_text
from ui.filters import Selection, common_root, document_day, facets, label, where
from ui.followup import standalone
from ui.history import History
from ui.source import open_source
from ui.stats import collection_stats

DEFAULT_COLLECTION = "docs"


@st.cache_resource
def get_client(api_url: str, api_key: str | None) -> SleuthClient:
    """One connection pool to the API for every session of this server."""
    return SleuthClient(api_url, api_key=api_key, timeout=60.0)


@st.cache_resource
def get_history(path: Path) -> History:
    """The conversations' file, opened once per server."""
    return History(path)


config = load_config()
st.set_page_config(page_title="Sleuth", page_icon=":mag:", layout="wide")
view.style()
client = get_client(config.api_url, config.api_key)
history = get_history(config.history)
st.title("Sleuth")
st.caption("Ask your documents. Every answer cites the passages it comes from.")

# --- Is the API there and ready? -------------------------------------------------------
try:
    health = client.health()
    collections = {c.name: c for c in client.list_collections()}
except (httpx.HTTPError, ApiError) as e:
    st.error(
        f"The Sleuth API at {config.api_url} is not reachable ({type(e).__name__}). "
        "Start it with `sleuth serve`, or everything with `sleuth up`, then reload this page."
    )
    st.stop()
if not health.serving:
    reason = health.model_error or "it is still loading the embedding model"
    st.warning(f"The Sleuth API is not ready yet: {reason}.")
    st.button("Check again")
    st.stop()

# --- Sidebar: conversations (filled last), collection, k, mode, filters, generation -----
conversation_list = st.sidebar.container()
with st.sidebar:
    st.header("Search")
    if collections:
        name = st.selectbox("Collection", list(collections), key="collection")
    else:
        name = st.text_input("Collection", DEFAULT_COLLECTION, key="new_collection")
    k = st.slider("Passages (k)", 1, 20, 5, key="k")
    mode = st.radio("Search mode", modes.MODES, key="mode", help=modes.HELP)

info = collections.get(name)
documents = all_documents(client, name) if info else []
available = facets(documents)
root = common_root(documents)

with st.sidebar:
    st.header("Filters")
    folders = st.multiselect("Folder", list(available.folders), key="folders")
    file_types = st.multiselect("File type", available.file_types, key="file_types")
    sources = st.multiselect("Document", list(available.sources), key="sources")
    days = None
    if available.first_day and available.last_day:
        bounds = (available.first_day, available.last_day)
        picked = st.date_input(  # keyed by its bounds: a new document's date resets the range
            "Dated between" if available.dated else "Modified between", bounds,
            min_value=bounds[0], max_value=bounds[1], key=f"days_{bounds[0]}_{bounds[1]}",
            help="The date a document declares (front matter, properties, meta tags), "
            "else its file's modification date.",
        )
        days = tuple(picked) if isinstance(picked, tuple) and len(picked) == 2 else None
    selection = Selection(
        sources=tuple(available.sources[s] for s in sources),
        file_types=tuple(file_types),
        folders=tuple(available.folders[f] for f in folders),
        days=days,
    )
    where_filter = where(selection, available)
    with st.expander("Answer generation (optional)"):
        st.caption("An OpenAI-compatible chat endpoint writes the answer from the passages. "
                   "Without one, the extractive answer is shown; nothing leaves this machine.")
        base_url = st.text_input("Base URL", config.chat_base_url, key="chat_base_url",
                                 placeholder="http://localhost:11434/v1")
        chat_model = st.text_input("Model", config.chat_model, key="chat_model")
        chat_key = st.text_input("API key", config.chat_api_key, key="chat_key",
                                 type="password")
    endpoint = ChatEndpoint(base_url, chat_model, chat_key) if base_url and chat_model else None

# --- Collection statistics ---------------------------------------------------------------
with st.expander(f"Statistics of {name}"):  # folded: on a phone they would fill the screen
    stats = collection_stats(info)
    for row in (stats[:3], stats[3:]):  # two rows of three: readable at 390 px too
        for column, stat in zip(st.columns(3), row, strict=True):
            column.metric(stat.label, stat.value, help=stat.help)
    if info:
        st.caption(f"Embedding model {info.model or 'none (raw vectors)'} · "
                   f"{info.metric} similarity")

# --- Documents: upload with progress, table, delete ---------------------------------------
if flash := st.session_state.pop("flash", None):  # (level, text) left by the run before
    level, text = flash
    (st.warning if level == "warning" else st.success)(text)
with st.expander(f"Documents in {name} ({len(documents)})", expanded=not documents):
    upload_round = st.session_state.setdefault("upload_round", 0)
    limits = client.limits()
    uploads = st.file_uploader(
        "Add documents", type=list(UPLOAD_TYPES), accept_multiple_files=True,
        key=f"upload_{upload_round}", help=limits_text(limits),
        max_upload_size=max(1, -(-limits.max_upload_bytes // (1 << 20))),  # the server's, in MB
    )
    st.caption(limits_text(limits))
    if uploads and st.button(f"Ingest {len(uploads)} file(s)"):
        bar = st.progress(0.0, text="uploading")

        def show_progress(done: int, total: int) -> None:
            bar.progress(done / total if total else 1.0,
                         text=f"{done} of {total} files ingested")

        try:
            result = ingest_uploads(client, name, [(f.name, f.getvalue()) for f in uploads],
                                    show_progress)
        except (ApiError, httpx.HTTPError, TimeoutError) as e:
            bar.empty()
            st.error(f"Upload failed: {e}")
        else:
            trouble = result.refused or result.failed
            st.session_state.flash = ("warning" if trouble else "success", result.summary(name))
            st.session_state.upload_round = upload_round + 1
            st.rerun()
    if documents:
        st.dataframe(
            [
                {
                    "document": label(d.source, d.filename, root),
                    "title": d.title,
                    "type": d.file_type,
                    "chunks": d.chunks,
                    "author": d.author,
                    "KB": round((d.size or 0) / 1024, 1),
                    "date": document_day(d),
                }
                for d in documents
            ],
            hide_index=True,
            width="stretch",
        )
        by_label = {label(d.source, d.filename, root): d.id for d in documents}
        doomed = st.multiselect("Delete documents", list(by_label), key="doomed")
        if doomed and st.button(f"Delete {len(doomed)} document(s)", type="primary"):
            try:
                for doc in doomed:
                    client.delete_document(name, by_label[doc])
            except (ApiError, httpx.HTTPError) as e:
                st.error(f"Delete failed: {e}")
            else:
                st.session_state.flash = ("success", f"Deleted {len(doomed)} document(s).")
                del st.session_state["doomed"]
                st.rerun()

# --- Conversation ------------------------------------------------------------------------
conversation = conversations.current(history)
turns = history.turns(conversation.id) if conversation else []
for index, turn in enumerate(turns):
    view.show_turn(index, turn, root,
                   lambda n, hit, c=turn.collection: open_source(client, c or name, n, hit))
searchable = bool(info and info.count)
if not searchable:
    st.info(f"Collection {name!r} is empty: add documents above (or run `sleuth ingest`) "
            "to ask questions.")
if question := st.chat_input("Ask a question about your documents", disabled=not searchable):
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        with st.spinner("Searching"):
            query, rewrite_notice = standalone([t.query or t.question for t in turns], question,
                                               endpoint)
            turn = ask(client, name, question, k=k, mode=mode, where=where_filter, query=query)
        if endpoint is not None and turn.hits:
            slot = st.empty()
            generate(turn, endpoint, lambda text: slot.markdown(
                view.generated_html(len(turns), text, len(turn.hits)) + " ▌",
                unsafe_allow_html=True))
            slot.empty()
        if rewrite_notice:
            turn.notice = " ".join(n for n in (rewrite_notice, turn.notice) if n)
        if conversation is None or history.get(conversation.id) is None:
            conversation = history.create(question, name)
            conversations.open_conversation(conversation.id)
        history.add_turn(conversation.id, turn)
        view.reply(len(turns), turn, root, lambda n, hit: open_source(client, name, n, hit))

with conversation_list:
    conversations.sidebar(history, conversation)
