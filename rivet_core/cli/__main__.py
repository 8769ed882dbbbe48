"""`python -m rivet_core.cli`."""

from rivet_core.cli import main

main()
