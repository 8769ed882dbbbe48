"""The unit tier: no server, no network, no child process; `.venv/bin/python -m pytest tests/unit -q`."""
