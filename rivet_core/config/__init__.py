"""rivet.yaml: the grammar's models, loading (`${VAR}`, `--param`), errors naming the path, typed mode views.

Layout: `aliases` (every Literal of the grammar), `base` (model base, strict numbers), `tuning`, `source`
(+ `urls`), `destinations`, `output`, `quality`, `dagster`, `notifications`, `export` (+ `views`), `root`
(`Config`), `types` (sizes, `columns:` overrides), `messages` (pydantic error → one line), `loading`,
`schema`.
"""

from rivet_core.config.aliases import (
    Automation,
    BatchMemoryPolicy,
    ChunkStrategy,
    Compression,
    CompressionProfile,
    CursorMode,
    DagsterWindow,
    DestinationType,
    Environment,
    Format,
    Mode,
    Profile,
    RowGroupStrategy,
    SchemaDriftPolicy,
    Severity,
    SlackEvent,
    SourceType,
    TimeColumnType,
    TlsMode,
)
from rivet_core.config.dagster import DagsterConfig
from rivet_core.config.destinations import (
    AzureDestinationConfig,
    DestinationConfig,
    GcsDestinationConfig,
    LocalDestinationConfig,
    S3DestinationConfig,
    StdoutDestinationConfig,
)
from rivet_core.config.export import ExportConfig
from rivet_core.config.loading import apply_params, load_config, parse_config
from rivet_core.config.notifications import NotificationsConfig, SlackConfig
from rivet_core.config.output import MetaColumns, ParquetOptions
from rivet_core.config.quality import NullRatioRule, QualityConfig, QualityRule, RowCountRule, UniqueColumnsRule
from rivet_core.config.root import Config, export_fingerprint
from rivet_core.config.schema import config_json_schema
from rivet_core.config.source import SourceConfig, TlsConfig, require_env
from rivet_core.config.tuning import PROFILES, Tuning, TuningConfig
from rivet_core.config.types import decimal_type, parse_file_size, parse_type_override
from rivet_core.config.views import (
    DEFAULT_CHUNK_SIZE,
    ChunkedView,
    FullView,
    IncrementalView,
    ModeView,
    TimeWindowView,
)

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "PROFILES",
    "Automation",
    "AzureDestinationConfig",
    "BatchMemoryPolicy",
    "ChunkStrategy",
    "ChunkedView",
    "Compression",
    "CompressionProfile",
    "Config",
    "CursorMode",
    "DagsterConfig",
    "DagsterWindow",
    "DestinationConfig",
    "DestinationType",
    "Environment",
    "ExportConfig",
    "Format",
    "FullView",
    "GcsDestinationConfig",
    "IncrementalView",
    "LocalDestinationConfig",
    "MetaColumns",
    "Mode",
    "ModeView",
    "NotificationsConfig",
    "NullRatioRule",
    "ParquetOptions",
    "Profile",
    "QualityConfig",
    "QualityRule",
    "RowCountRule",
    "RowGroupStrategy",
    "S3DestinationConfig",
    "SchemaDriftPolicy",
    "Severity",
    "SlackConfig",
    "SlackEvent",
    "SourceConfig",
    "SourceType",
    "StdoutDestinationConfig",
    "TimeColumnType",
    "TimeWindowView",
    "TlsConfig",
    "TlsMode",
    "Tuning",
    "TuningConfig",
    "UniqueColumnsRule",
    "apply_params",
    "config_json_schema",
    "decimal_type",
    "export_fingerprint",
    "load_config",
    "parse_config",
    "parse_file_size",
    "parse_type_override",
    "require_env",
]
