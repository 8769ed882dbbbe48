"""The README's Performance table from `bench/compare.py --json` files: one Markdown table per file, with its date,
machine and row count. Usage: `.venv/bin/python bench/markdown.py bench-5M.json [bench-20M.json …]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ENGINE_LABELS = {"pg": "PostgreSQL", "mysql": "MariaDB"}


def _fmt(value: float | None, spec: str) -> str:
    return "—" if value is None else format(value, spec)


def table(doc: dict[str, Any]) -> str:
    """One results file as a Markdown table of medians (tool, engine, wall, rows/s, x dump, peak RSS, output)."""
    machine = doc["machine"]
    lines = [
        f"{doc['rows']:,} rows, medians of {doc['repeat']} interleaved run(s), process start included — "
        f"{doc['date']}, {machine['cpus']} CPUs, {machine['platform']}, Python {machine['python']}:",
        "",
        "| tool | engine | wall s | rows/s | x dump | peak RSS MiB | output MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in doc["results"]:
        note = f" ({r['note']})" if r["note"] else ""
        lines.append(
            f"| {r['tool']}{note} | {ENGINE_LABELS[r['engine']]} | {_fmt(r['wall_s'], '.2f')} "
            f"| {_fmt(r['rows_per_s'], ',.0f')} | {_fmt(r['ratio_to_dump'], '.2f')} "
            f"| {_fmt(r['peak_rss_mib'], '.0f')} | {_fmt(r['output_mib'], '.1f')} |"
        )
    return "\n".join(lines)


def main(paths: list[str]) -> int:
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    print("\n\n".join(table(json.loads(Path(p).read_text())) for p in paths))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
