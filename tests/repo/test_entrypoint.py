"""action.yml's runs.entrypoint and runs.args are the Dockerfile's ENTRYPOINT, word for word.

Kubernetes runners (actions/runner-container-hooks) run only what action.yml names; ordinary runners run
`docker run --entrypoint` with it. Either way the process must be the one the image is built and tested with:
python as PID 1, isolated (-I), unbuffered (-u), writing no bytecode (-B).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]


def test_action_yml_names_the_images_own_entry_point() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    dockerfile = (REPO / "Dockerfile").read_text(encoding="utf-8")
    [line] = re.findall(r"^ENTRYPOINT (\[.*\])$", dockerfile, re.MULTILINE)
    entrypoint = json.loads(line)

    assert [action["runs"]["entrypoint"], *action["runs"]["args"]] == entrypoint
    assert all(isinstance(arg, str) and arg and " " not in arg for arg in action["runs"]["args"])
