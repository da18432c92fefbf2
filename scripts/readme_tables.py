"""The README's inputs and outputs tables, generated from action.yml so the two cannot drift.

python scripts/readme_tables.py          rewrite the tables in README.md
python scripts/readme_tables.py --check  exit 1 when README.md is out of date (the test suite does this)
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def inputs_table(action: dict[str, Any]) -> str:
    rows = ["| Input | Required | Default | Environment variable | Description |", "|---|---|---|---|---|"]
    for name, spec in action["inputs"].items():
        default = str(spec.get("default", ""))
        variable = next(
            (env for env, value in action["runs"]["env"].items() if value == f"${{{{ inputs.{name} }}}}"), ""
        )
        rows.append(
            f"| `{name}` | {'yes' if spec.get('required') else 'no'} | {f'`{default}`' if default else ''} "
            f"| `{variable}` | {_cell(spec['description'])} |"
        )
    return "\n".join(rows)


def outputs_table(action: dict[str, Any]) -> str:
    rows = ["| Output | Description |", "|---|---|"]
    rows += [f"| `{name}` | {_cell(spec['description'])} |" for name, spec in action["outputs"].items()]
    return "\n".join(rows)


def render(readme: str, action: dict[str, Any]) -> str:
    for marker, table in (("inputs", inputs_table(action)), ("outputs", outputs_table(action))):
        pattern = re.compile(rf"<!-- {marker}:start -->\n.*?\n<!-- {marker}:end -->", re.DOTALL)
        found = pattern.search(readme)
        if found is None:
            raise SystemExit(f"README.md has no <!-- {marker}:start --> ... <!-- {marker}:end --> markers")
        start, end = found.span()
        readme = readme[:start] + f"<!-- {marker}:start -->\n{table}\n<!-- {marker}:end -->" + readme[end:]
    return readme


def main(argv: list[str]) -> int:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    current = README.read_text(encoding="utf-8")
    wanted = render(current, action)
    if "--check" in argv:
        if wanted != current:
            print("README.md tables differ from action.yml: run python scripts/readme_tables.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(wanted, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
