"""TABLE_INVENTORY_YYYYMMDD.csv: every table of every audited dataset, with its mandate status.

The naming findings name the first violators only; this file is the full list (1,596 rows for
the COV rename alone), as CSV so that it opens in a spreadsheet and diffs line by line.
"""

from __future__ import annotations

import csv
import io

from reporting.audit import Audit

__all__ = ["file_name", "render"]


def file_name(audit: Audit) -> str:
    return f"TABLE_INVENTORY_{audit.run.date:%Y%m%d}.csv"


def render(audit: Audit) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    header_written = False
    for record in sorted(audit.records, key=lambda r: r.subject):
        if record.criterion != "dataset_inventory":
            continue
        inventory = record.facts.get("inventory")
        if not isinstance(inventory, dict):
            continue
        if not header_written:
            writer.writerow(["dataset", *inventory.get("columns", [])])
            header_written = True
        for row in inventory.get("rows", []):
            writer.writerow([record.subject, *row])
    if not header_written:
        writer.writerow(["dataset", "note"])
        writer.writerow(["", "no dataset inventory ran in this audit"])
    return out.getvalue()
