"""A clock for tests that simulate minutes in milliseconds, and the real API client on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests

from northflank_release.api.client import ApiAnswer, NorthflankClient, RunsPage
from northflank_release.api.target import Target
from testing.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin, route_of


@dataclass
class FakeClock:
    """A clock tests advance by hand; `sleep` advances it instead of waiting."""

    now: float = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


USERS_READ_TIMEOUT = 30.0  # the action's default http timeout, charged to the simulated clock per hang
HELD_READ_TIMEOUT = 0.02  # real seconds a request the stand-in holds (an outage's hang) takes to time out
READ_TIMEOUT = 5.0  # for every other request: far above a local answer, however loaded the machine


class SimulatedTimeoutClient(NorthflankClient):
    """The real client, whose every timed-out request costs the simulated clock what it would cost a user: the
    default read timeout. Only a request the stand-in will hold (an outage in "hang" mode) gets a read timeout
    of milliseconds, so a hang costs no real time and a slow machine never fakes one."""

    clock: FakeClock
    standin: NorthflankStandin

    def _request(self, method: str, path: str, **kwargs: Any) -> ApiAnswer:
        if self._held(method, path):
            kwargs["timeout"] = HELD_READ_TIMEOUT
        try:
            return super()._request(method, path, **kwargs)
        except requests.ReadTimeout:
            self.clock.sleep(USERS_READ_TIMEOUT)
            raise

    def _held(self, method: str, path: str) -> bool:
        """Outage.covers without its side effect: an outage with no start begins at the first trigger."""
        outage = self.standin.outage
        if outage is None or outage.mode != "hang":
            return False
        if outage.start is None:
            return route_of(method, path) == "trigger"
        return outage.start <= self.standin.clock() < outage.start + outage.seconds


def client_on(standin: NorthflankStandin, clock: FakeClock, token: str = API_TOKEN_DEFAULT) -> SimulatedTimeoutClient:
    client = SimulatedTimeoutClient(standin.url, token, read_timeout=READ_TIMEOUT)
    client.clock, client.standin = clock, standin
    return client


class TimedClient(NorthflankClient):
    """The real client, noting the simulated time of each status read."""

    read_times: list[float]
    read_ids: list[str]  # the run each read was of
    budgets: list[float | None]  # the `within` each read was given
    clock: FakeClock

    list_budgets: list[float | None]  # the `within` each list read was given

    def __post_init__(self) -> None:
        super().__post_init__()
        self.read_times, self.budgets, self.list_budgets = [], [], []
        self.read_ids = []

    def list_page(self, target: Target, params: dict[str, str], within: float | None = None) -> RunsPage:
        self.list_budgets.append(within)
        return super().list_page(target, params, within)

    def get_run(self, target: Target, run_id: str, within: float | None = None) -> ApiAnswer:
        self.read_times.append(self.clock.now)
        self.read_ids.append(run_id)
        self.budgets.append(within)
        return super().get_run(target, run_id, within)
