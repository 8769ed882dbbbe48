"""rivet.yaml: the grammar's models, loading (`${VAR}`, `--param`), errors naming the path, typed mode views.

Layout: `aliases` (every Literal of the grammar), `base` (model base, strict numbers), `tuning`, `source`
(+ `urls`), `destinations`, `output` (+ the resolved compression / row groups / meta columns), `quality`,
`dagster`, `notifications`, `export` (+ `export_rules`, `views`), `root` (`Config`), `types` (sizes,
`columns:` overrides), `messages` (pydantic error → one line), `loading`, `schema`.
"""

from rivet_core.config.aliases import (
    Automation,
    BatchMemoryPolicy,
    ChunkStrategy,
    Compression,
    CompressionOrigin,
    CompressionProfile,
    CursorMode,
    DagsterWindow,
    DestinationType,
    Environment,
    Format,
    MetaColumnType,
    Mode,
    ParallelMode,
    Profile,
    ProfileOrigin,
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
    AzureCredential,
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
from rivet_core.config.output import (
    EXPORTED_AT,
    ROW_HASH,
    CompressionChoice,
    MetaColumn,
    MetaColumns,
    ParquetOptions,
    RowGroupSizing,
)
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
    "EXPORTED_AT",
    "PROFILES",
    "ROW_HASH",
    "Automation",
    "AzureCredential",
    "AzureDestinationConfig",
    "BatchMemoryPolicy",
    "ChunkStrategy",
    "ChunkedView",
    "Compression",
    "CompressionChoice",
    "CompressionOrigin",
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
    "MetaColumn",
    "MetaColumnType",
    "MetaColumns",
    "Mode",
    "ModeView",
    "NotificationsConfig",
    "NullRatioRule",
    "ParallelMode",
    "ParquetOptions",
    "Profile",
    "ProfileOrigin",
    "QualityConfig",
    "QualityRule",
    "RowCountRule",
    "RowGroupSizing",
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
