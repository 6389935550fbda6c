"""The Streamlit chat-search page (`app.py`); it reaches Sleuth only over HTTP."""
