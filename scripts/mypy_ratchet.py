"""Run mypy (configured in pyproject.toml) and hold its error count to the one recorded in
``mypy-errors.txt``: more fails; fewer fails too, asking that the lower number be recorded, so the
count can only go down."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "mypy-errors.txt"


def main() -> int:
    run = subprocess.run([sys.executable, "-m", "mypy"], cwd=ROOT, capture_output=True, text=True, check=False)
    output = run.stdout + run.stderr
    if found := re.search(r"Found (\d+) errors? in", output):
        count = int(found.group(1))
    elif "Success: no issues found" in output:
        count = 0
    else:
        print(output)
        print("mypy did not finish: see above", file=sys.stderr)
        return 2
    recorded = int(RECORD.read_text().split()[0])
    if count > recorded:
        print(output)
        print(f"mypy: {count} errors, more than the {recorded} recorded in {RECORD.name}: fix the new ones",
              file=sys.stderr)
        return 1
    if count < recorded:
        print(f"mypy: {count} errors, fewer than the {recorded} recorded: write {count} in {RECORD.name}",
              file=sys.stderr)
        return 1
    print(f"mypy: {count} errors, as recorded in {RECORD.name} (the count may only go down)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
