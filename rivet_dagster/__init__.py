"""rivet on Dagster: one asset per export of a rivet.yaml, and IO managers that commit through rivet_core."""
