"""rivet: export PostgreSQL and MySQL/MariaDB tables to Parquet/CSV on local disk, S3 or GCS."""

__version__ = "0.1.0"
