"""Unit tests of rivet_core.config (no server, no network, no child process)."""
