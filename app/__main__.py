"""`python -m app ...` is the `sleuth` command (how `sleuth up` starts its children)."""

from app.cli import main

main()
