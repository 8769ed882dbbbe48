"""Imported first by rivet_dagster: without Dagster (a CLI-only install) it names the extra to install."""

from rivet_dagster.extras import require

require("dagster", "dagster", "rivet_dagster")
