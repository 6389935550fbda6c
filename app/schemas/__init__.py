"""Request and response models of the API, one module per resource.

Pydantic only: no store or ingest imports, so `app.client` can use them on a machine
that only talks to a Sleuth server.
"""
