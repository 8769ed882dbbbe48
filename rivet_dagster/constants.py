"""Names shared across rivet_dagster: resource keys and the definition metadata rivet reads back at run time."""

RESOURCE_KEY = "rivet"  # the RivetResource that runs exports
IO_MANAGER_KEY = "rivet_io_manager"  # local; S3 and GCS exports use the keys below
IO_MANAGER_KEYS = {"local": IO_MANAGER_KEY, "s3": "rivet_s3_io_manager", "gcs": "rivet_gcs_io_manager"}
EXPORT_METADATA_KEY = "rivet/export"  # definition metadata: the export behind an asset
CONFIG_METADATA_KEY = "rivet/config"  # definition metadata: the rivet.yaml it is defined in
NOTIFIED_METADATA_KEY = "rivet/notified"  # an export step's failure metadata: the engine already notified
