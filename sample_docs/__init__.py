"""The sample document set the demo ingests, and the script that writes it (`generate.py`)."""
