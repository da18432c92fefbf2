"""The stand-in as a program (`python -m testing.northflank_standin`, for demos and the peers' runs): it says
where it listens, answers, and ends cleanly on SIGTERM. Its answers are tested in-process in tests/unit."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

FLOW = "/v1/projects/proj/pipelines/pipe/release-flows/staging/runs"
REPO = Path(__file__).resolve().parents[2]


def test_runs_as_a_module_until_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "testing.northflank_standin", "--token", "demo-token"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.fullmatch(r"Northflank stand-in listening on (http://127\.0\.0\.1:\d+)\n", line)
        assert match, line
        response = requests.get(match[1] + FLOW, headers={"Authorization": "Bearer demo-token"}, timeout=5)
        assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
