"""Where a release flow's runs live in the API: the one fact every route is built from."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Target:
    """The release flow of one pipeline stage."""

    project_id: str
    pipeline_id: str
    stage: str
    team_id: str = ""

    @property
    def flow_path(self) -> str:
        """The release flow itself: GET answers with its template (the team-scoped mirror with a team id)."""
        prefix = f"/v1/teams/{quote(self.team_id, safe='')}" if self.team_id else "/v1"
        return (
            f"{prefix}/projects/{quote(self.project_id, safe='')}/pipelines/{quote(self.pipeline_id, safe='')}"
            f"/release-flows/{quote(self.stage, safe='')}"
        )

    @property
    def runs_path(self) -> str:
        return f"{self.flow_path}/runs"
