"""`dg scaffold defs rivet_dagster.RivetComponent <path>`: a defs.yaml and a starting rivet.yaml.

With `--url-env VAR --table t …` the rivet.yaml comes from the live tables (the `rivet init` code path: an
obvious cursor column makes an export incremental); without them, a commented template.
"""

from __future__ import annotations

from typing import Literal

from dagster.components import Scaffolder, ScaffoldRequest
from dagster.components.component_scaffolding import scaffold_component
from pydantic import BaseModel, Field

from rivet_dagster._engine import InitDestination, InitSource, scaffold

TEMPLATE = """\
# rivet.yaml: what to export (README "Config reference"; `rivet schema config` prints the JSON Schema).
source:
  type: postgres            # or mysql
  url_env: DATABASE_URL     # the environment variable holding the connection URL (never the URL itself)
exports:
  - name: orders
    table: public.orders
    # mode: incremental     # full (default) | incremental | chunked | time_window
    # cursor_column: updated_at
    format: parquet
    destination:
      type: local           # or s3 / gcs
      path: ./out/{export}
    # dagster:
    #   key_prefix: [raw]
    #   group: raw
    #   automation: eager
"""


class RivetScaffoldParams(BaseModel):
    """`dg scaffold defs rivet_dagster.RivetComponent <path> [--url-env VAR --table t …]` options."""

    url_env: str | None = Field(default=None, description="Env var holding the source URL (read now, not written).")
    table: list[str] | None = Field(default=None, description="Tables to export (t or schema.t).")
    source_type: Literal["postgres", "mysql"] = Field(default="postgres", description="The source engine.")
    file_format: Literal["parquet", "csv"] = Field(default="parquet", description="File format.")
    out_path: str = Field(default="./out/{export}", description="Local destination folder.")


class RivetScaffolder(Scaffolder[RivetScaffoldParams]):
    """Writes defs.yaml (`config: rivet.yaml`) and rivet.yaml beside it."""

    @classmethod
    def get_scaffold_params(cls) -> type[RivetScaffoldParams]:
        return RivetScaffoldParams

    def scaffold(self, request: ScaffoldRequest[RivetScaffoldParams]) -> None:
        params = request.params
        scaffold_component(request, {"config": "rivet.yaml"})
        config = request.target_path / "rivet.yaml"
        if config.exists():
            return  # never overwrite a user's config
        if params.url_env and params.table:
            source, destination = InitSource("url_env", params.url_env), InitDestination(path=params.out_path)
            text, _ = scaffold(source, list(params.table), schema=None, fmt=params.file_format, destination=destination)
        else:
            text = TEMPLATE
        config.write_text(text)
