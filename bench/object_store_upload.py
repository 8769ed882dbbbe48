"""Benchmark: streaming a ~1 GiB object to S3 (moto server) and GCS (gcp-storage-emulator) with each candidate client.

Candidates write the same bytes in 1 MiB writes (as the Parquet writer does) to one object and close it:
  S3:  rivet's S3Destination sink (boto3 multipart, 8 MiB parts, one in flight in a thread), s3fs, pyarrow.fs
  GCS: rivet's GcsDestination sink (google-cloud-storage resumable, 8 MiB chunks, one in flight), the library's own
       BlobWriter (same chunks, no thread), gcsfs, pyarrow.fs
Each run is a fresh child process against a fresh server; reported: median seconds, MiB/s, the client's CPU seconds,
peak RSS (ru_maxrss) and peak RSS minus the RSS before the first write (the upload's own memory). Servers are
started here on free loopback ports.
A candidate whose package is missing is skipped; `--python` runs the children with another interpreter (s3fs pins
an older botocore than boto3's, so it may need its own venv). GCS sizes default smaller: the emulator appends each
resumable chunk by rewriting the whole object so far (quadratic), which would measure the emulator, not the client.
With `--export TABLE`, instead: one `rivet run` (full, Parquet zstd) of a Postgres table to a local folder, to S3 and
to GCS, each a child process: seconds and its peak RSS (wait4), to compare the object stores with the local disk.
Usage: `.venv/bin/python bench/object_store_upload.py [--mib 1024] [--gcs-mib 256] [--repeat 3] [--only NAME…]`
       `.venv/bin/python bench/object_store_upload.py --export bench_events` (table made by bench/pg_export.py).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

S3 = ["rivet-s3", "s3fs", "pyarrow-s3"]
GCS = ["rivet-gcs", "gcs-blobwriter", "gcsfs", "pyarrow-gcs"]
KEY, SECRET = "bench-key", "bench-secret"


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rivet_s3(endpoint: str, bucket: str, key: str) -> BinaryIO:
    from rivet_core.config import S3DestinationConfig as S3Config
    from rivet_core.destinations.s3 import S3Destination

    cfg = S3Config(
        type="s3", bucket=bucket, endpoint=endpoint, region="us-east-1", access_key_env="K", secret_key_env="S"
    )
    return S3Destination(cfg, "", env={"K": KEY, "S": SECRET}).open_write(key)


def _s3fs(endpoint: str, bucket: str, key: str) -> BinaryIO:
    import s3fs

    fs = s3fs.S3FileSystem(key=KEY, secret=SECRET, endpoint_url=endpoint)
    sink: BinaryIO = fs.open(f"{bucket}/{key}", "wb", block_size=8 << 20)
    return sink


def _pyarrow_s3(endpoint: str, bucket: str, key: str) -> BinaryIO:
    from pyarrow import fs

    s3 = fs.S3FileSystem(
        access_key=KEY,
        secret_key=SECRET,
        endpoint_override=endpoint.removeprefix("http://"),
        scheme="http",
        region="us-east-1",
    )
    sink: BinaryIO = s3.open_output_stream(f"{bucket}/{key}")
    return sink


def _rivet_gcs(endpoint: str, bucket: str, key: str) -> BinaryIO:
    from rivet_core.config import GcsDestinationConfig as GcsConfig
    from rivet_core.destinations.gcs import GcsDestination

    cfg = GcsConfig(type="gcs", bucket=bucket, endpoint=endpoint, allow_anonymous=True)
    return GcsDestination(cfg, "").open_write(key)


def _gcs_blobwriter(endpoint: str, bucket: str, key: str) -> BinaryIO:
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="bench", credentials=AnonymousCredentials(), client_options={"api_endpoint": endpoint}
    )
    sink: BinaryIO = client.bucket(bucket).blob(key).open("wb", chunk_size=8 << 20, ignore_flush=True)
    return sink


def _gcsfs(endpoint: str, bucket: str, key: str) -> BinaryIO:
    import gcsfs

    fs = gcsfs.GCSFileSystem(token="anon", endpoint_url=endpoint)
    sink: BinaryIO = fs.open(f"{bucket}/{key}", "wb", block_size=8 << 20)
    return sink


def _pyarrow_gcs(endpoint: str, bucket: str, key: str) -> BinaryIO:
    from pyarrow import fs

    gcs = fs.GcsFileSystem(anonymous=True, endpoint_override=endpoint.removeprefix("http://"), scheme="http")
    sink: BinaryIO = gcs.open_output_stream(f"{bucket}/{key}")
    return sink


# Each candidate's writable stream for `bucket/key`.
_OPENERS: dict[str, Callable[[str, str, str], BinaryIO]] = {
    "rivet-s3": _rivet_s3,
    "s3fs": _s3fs,
    "pyarrow-s3": _pyarrow_s3,
    "rivet-gcs": _rivet_gcs,
    "gcs-blobwriter": _gcs_blobwriter,
    "gcsfs": _gcsfs,
    "pyarrow-gcs": _pyarrow_gcs,
}


def _open(name: str, endpoint: str, bucket: str, key: str) -> BinaryIO:
    """The candidate's writable stream for `bucket/key`."""
    if name not in _OPENERS:
        raise ValueError(name)
    return _OPENERS[name](endpoint, bucket, key)


def child(name: str, endpoint: str, bucket: str, mib: int) -> dict[str, Any]:
    """Stream `mib` MiB through one candidate; time and memory as seen from inside the writing process."""
    blocks = [os.urandom(1 << 20) for _ in range(16)]
    sink = _open(name, endpoint, bucket, f"bench/{name}.bin")
    before = _rss_mib()
    cpu = _cpu()
    start = time.perf_counter()
    for i in range(mib):
        sink.write(blocks[i % len(blocks)])
    sink.close()
    seconds = time.perf_counter() - start
    return {
        "seconds": round(seconds, 2),
        "cpu_s": round(_cpu() - cpu, 1),
        "mib_s": round(mib / seconds, 1),
        "peak_rss_mib": round(_rss_mib()),
        "upload_rss_mib": round(_rss_mib() - before),
    }


def _available(name: str, python: str) -> bool:
    module = {"s3fs": "s3fs", "gcsfs": "gcsfs"}.get(name, "pyarrow.fs")
    return subprocess.run([python, "-c", f"import {module}"], capture_output=True).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mib", type=int, default=1024, help="S3 object size in MiB")
    parser.add_argument("--gcs-mib", type=int, default=256, help="GCS object size in MiB (emulator is quadratic)")
    parser.add_argument("--only", nargs="*", default=S3 + GCS, choices=S3 + GCS)
    parser.add_argument("--repeat", type=int, default=3, help="runs per candidate (median reported)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the candidate processes")
    parser.add_argument("--export", metavar="TABLE", help="compare `rivet run` of TABLE to local, S3 and GCS")
    parser.add_argument("--child", nargs=4, metavar=("NAME", "ENDPOINT", "BUCKET", "MIB"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        name, endpoint, bucket, mib = args.child
        print(json.dumps(child(name, endpoint, bucket, int(mib))))
        return

    from servers import GcsEmulator, MotoS3  # type: ignore[import-not-found]  # tests/ is on sys.path (top)

    if args.export:
        for kind, server in (("local", None), ("s3", MotoS3()), ("gcs", GcsEmulator())):
            seconds, rss = _export(args.export, kind, server)
            print(f"rivet run -> {kind:5}  {seconds:6.2f} s  peak RSS {rss:5.0f} MiB", flush=True)
        return
    for names, make, mib in ((S3, MotoS3, args.mib), (GCS, GcsEmulator, args.gcs_mib)):
        for name in [n for n in names if n in args.only]:
            if not _available(name, args.python):
                print(f"{name:15} skipped (not installed for {args.python})")
                continue
            runs = [_run(name, make(), mib, args.python) for _ in range(args.repeat)]
            if any(r is None for r in runs):
                continue
            seconds = statistics.median(r["seconds"] for r in runs)  # type: ignore[index]
            peak = max(r["peak_rss_mib"] for r in runs)  # type: ignore[index]
            own = max(r["upload_rss_mib"] for r in runs)  # type: ignore[index]
            cpu = statistics.median(r["cpu_s"] for r in runs)  # type: ignore[index]
            spread = ", ".join(f"{r['seconds']:.1f}" for r in runs)  # type: ignore[index]
            print(
                f"{name:15} {mib:5} MiB  median {seconds:6.2f} s ({spread})  {mib / seconds:6.1f} MiB/s  "
                f"CPU {cpu:4.1f} s  peak RSS {peak:5} MiB (+{own} MiB while uploading)",
                flush=True,
            )


def _export(table: str, kind: str, server: Any) -> tuple[float, float]:
    """One full `rivet run` of `table` to `kind`: wall seconds and the child's peak RSS in MiB."""
    import yaml
    from common import timed  # here, not at the top: it imports pyarrow, which would weigh on the candidates' RSS

    url = os.environ.get("RIVET_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
    with tempfile.TemporaryDirectory() as tmp:
        destination: dict[str, Any] = {"type": "local", "path": f"{tmp}/out"}
        env = {**os.environ, "NO_GCE_CHECK": "true", "K": KEY, "S": SECRET}
        if server is not None:
            server.start()
            destination = {"type": kind, "bucket": server.new_bucket(), "prefix": "bench", "endpoint": server.endpoint}
            destination |= {"region": "us-east-1", "access_key_env": "K", "secret_key_env": "S"} if kind == "s3" else {}
            destination |= {"allow_anonymous": True} if kind == "gcs" else {}
        config = {
            "source": {"type": "postgres", "url": url},
            "exports": [{"name": "bench", "table": table, "format": "parquet", "destination": destination}],
        }
        Path(tmp, "rivet.yaml").write_text(yaml.safe_dump(config))
        try:
            sample = timed([sys.executable, "-m", "rivet_core.cli", "run", "-c", f"{tmp}/rivet.yaml"], env=env)
        finally:
            if server is not None:
                server.stop()
        return sample.seconds, sample.rss_mib


def _run(name: str, server: Any, mib: int, python: str) -> dict[str, Any] | None:
    """One candidate run against a fresh server (so earlier runs' objects do not slow this one)."""
    server.start()
    try:
        bucket = server.new_bucket()
        out = subprocess.run(
            [python, __file__, "--child", name, server.endpoint, bucket, str(mib)],
            capture_output=True,
            text=True,
            env={**os.environ, "NO_GCE_CHECK": "true"},
        )
    finally:
        server.stop()
    if out.returncode:
        print(f"{name:15} failed: {out.stderr.strip().splitlines()[-1:]}")
        return None
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


if __name__ == "__main__":
    main()
