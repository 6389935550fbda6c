"""A cited passage opened in its document, in a dialog beside the conversation.

For a PDF the server holds (an upload), the cited page is shown as an image with the
passage's lines highlighted; for every document, the passage in the text around it (its
neighbouring chunks) with the passage marked; and, for an upload, its original file to
download. Documents ingested from a folder on the server have no file the API serves (it
never reads a path from the store), and the dialog says so.
"""

import base64
import html

import httpx
import streamlit as st

from app.client import ApiError, SleuthClient
from app.schemas.pages import PageHighlight
from app.schemas.search import Chunk, Hit

IMAGE_WIDTH = 1400
CONTEXT = 1
"""Chunks shown on each side of the passage."""
CSS = """
<style>
/* The image fills the frame the boxes are placed in (Streamlit scales images down only,
   and centres them, which would shift them under the boxes). */
.sleuth-page {position: relative; width: 100%; line-height: 0; border: 1px solid
  rgba(128, 128, 128, 0.4);}
.sleuth-page img {width: 100% !important; max-width: 100% !important; height: auto !important;
  max-height: none !important; object-fit: fill !important; display: block; margin: 0;}
.sleuth-box {position: absolute; background: rgba(255, 196, 0, 0.35);
  outline: 2px solid rgba(255, 160, 0, 0.9); pointer-events: none;}
.sleuth-context {font-size: 0.92rem; line-height: 1.5; overflow-wrap: anywhere;}
.sleuth-context mark {background: rgba(255, 196, 0, 0.4); color: inherit;}
</style>
"""


def page_html(png: bytes, found: PageHighlight) -> str:
    """The page image with one translucent box per line of the passage over it."""
    boxes = "".join(
        f'<div class="sleuth-box" style="left:{b.left:.3%};top:{b.top:.3%};'
        f'width:{b.right - b.left:.3%};height:{b.bottom - b.top:.3%}"></div>'
        for b in found.boxes
    )
    image = base64.b64encode(png).decode()
    return (f'<div class="sleuth-page"><img alt="page {found.page}" style="width:100%" '
            f'src="data:image/png;base64,{image}">{boxes}</div>')


def context_html(before: list[Chunk], passage: Chunk, after: list[Chunk]) -> str:
    """The passage marked in the text of its neighbours, escaped, line breaks kept."""

    def text(chunks: list[Chunk]) -> str:
        return html.escape("\n\n".join((c.text or "").strip() for c in chunks))

    marked = f'<mark class="sleuth-quote">{html.escape((passage.text or "").strip())}</mark>'
    parts = [p for p in (text(before), marked, text(after)) if p]
    return '<div class="sleuth-context">' + "\n\n".join(parts).replace("\n", "<br>") + "</div>"


def _page(client: SleuthClient, collection: str, hit: Hit) -> None:
    """The cited page with the highlight, or a line saying why there is none."""
    try:
        png = client.page_image(collection, hit.document_id, hit.page, IMAGE_WIDTH)
        found = client.page_highlight(collection, hit.document_id, hit.page, hit.id)
    except ApiError as e:
        if e.status != 404:
            st.warning(f"The page could not be shown ({e.status}): {e.detail}")
        return
    st.markdown(page_html(png, found), unsafe_allow_html=True)
    st.caption(f"Page {found.page} of {found.pages}. " + (
        "The passage's lines are highlighted." if found.boxes
        else "The passage's text was not found on the page image."))


def _download(client: SleuthClient, collection: str, hit: Hit) -> None:
    """A download button for the original file, or why there is none."""
    try:
        content = client.document_file(collection, hit.document_id)
    except ApiError as e:
        if e.status != 404:
            raise
        st.caption("No original file to download: this document was not uploaded through "
                   "the page or the API (it was ingested from a folder on the server).")
        return
    name = hit.filename or "document"
    st.download_button(f"Download {name}", content, file_name=name, on_click="ignore",
                       icon=":material/download:", key=f"download-{hit.id}")


@st.dialog("Source", width="large")
def open_source(client: SleuthClient, collection: str, n: int, hit: Hit) -> None:
    """The dialog: where the passage is, the page image (PDF uploads), the text around it,
    the original file."""
    where = [hit.source or hit.filename or "?"] + ([f"page {hit.page}"] if hit.page else [])
    st.markdown(f"**[{n}] {html.escape(hit.title or hit.filename or '')}**  \n"
                f"`{' · '.join(where)}`", unsafe_allow_html=True)
    st.markdown(CSS, unsafe_allow_html=True)
    if hit.document_id is None:
        st.info("This passage is a raw record: it belongs to no document.")
        return
    try:
        if hit.page is not None:
            _page(client, collection, hit)
        _download(client, collection, hit)
        around = client.get_passage(collection, hit.id, CONTEXT)
    except (ApiError, httpx.HTTPError) as e:
        st.error(f"The source could not be read: {e}")
        return
    st.markdown(context_html(around.before, around.passage, around.after),
                unsafe_allow_html=True)
