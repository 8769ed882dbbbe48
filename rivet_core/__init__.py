"""rivet: export PostgreSQL and MySQL/MariaDB tables to Parquet/CSV on local disk, S3 or GCS."""

import contextlib

# mysql-connector's C extension links the system libstdc++, which needs static TLS that pyarrow's libraries use
# up: loaded after pyarrow it fails and the driver silently falls back to pure Python. Load it first (~2 ms).
with contextlib.suppress(ImportError):
    import _mysql_connector  # noqa: F401

__version__ = "0.1.0"
