"""The sidebar's conversations: open one, start a new one, rename or delete the open one.

The open conversation is the URL's `?c=<id>`, so a reload (or a bookmark) reopens it; the
widgets change the URL through callbacks, and Streamlit reruns the page after each.
"""

import time

import streamlit as st

from ui.history import Conversation, History

PARAM = "c"
SHOWN = 50
"""Conversations listed in the sidebar, the most recently used first."""


def open_id() -> str | None:
    """The id of the conversation the URL opens, if any."""
    return st.query_params.get(PARAM)


def open_conversation(conversation_id: str | None) -> None:
    """Make `conversation_id` the open one (None: none open, the next question starts one)."""
    if conversation_id is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = conversation_id


def current(history: History) -> Conversation | None:
    """The open conversation; an id nothing is stored under (deleted meanwhile) opens none."""
    conversation_id = open_id()
    found = history.get(conversation_id) if conversation_id else None
    if conversation_id and found is None:
        open_conversation(None)
    return found


def _rename(history: History, conversation_id: str, key: str) -> None:
    history.rename(conversation_id, st.session_state[key])


def _delete(history: History, conversation_id: str) -> None:
    history.delete(conversation_id)
    open_conversation(None)


def sidebar(history: History, open_now: Conversation | None) -> None:
    """The conversations section (call it inside the sidebar)."""
    st.header("Conversations")
    st.button("New conversation", on_click=open_conversation, args=(None,), width="stretch",
              icon=":material/add:")
    if open_now is not None:
        key = f"title_{open_now.id}"
        st.text_input("Title of this conversation", open_now.title, key=key,
                      on_change=_rename, args=(history, open_now.id, key), max_chars=80)
        st.button("Delete this conversation", on_click=_delete, args=(history, open_now.id),
                  icon=":material/delete:")
    for conversation in history.conversations(SHOWN):
        is_open = open_now is not None and conversation.id == open_now.id
        st.button(
            conversation.title, key=f"open_{conversation.id}", width="stretch",
            type="primary" if is_open else "secondary", disabled=is_open,
            on_click=open_conversation, args=(conversation.id,),
            help=f"{conversation.collection} · last asked "
                 f"{time.strftime('%Y-%m-%d %H:%M', time.localtime(conversation.updated))}",
        )
