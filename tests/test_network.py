"""The networks of self-hosted runners: forward proxies and TLS inspection with a private CA.

Real peers (tests/network_peers.py): a proxy server that records what reaches it and refuses CONNECT as
corporate proxies do, and a certificate authority made with openssl, trusted by the stand-in's https.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.network_peers import PrivateCA, RecordingProxy, make_private_ca
from tests.northflank_standin import API_TOKEN_DEFAULT, NorthflankStandin
from tests.runner import run_action

PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


@pytest.fixture
def proxy() -> Iterator[RecordingProxy]:
    with RecordingProxy() as server:
        yield server


def test_plain_http_to_loopback_never_goes_through_a_proxy(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], proxy: RecordingProxy
) -> None:
    """A proxy would read the token of a plain-http request in clear text: it must not see one."""
    job_env = dict.fromkeys(PROXY_VARIABLES, proxy.url)
    result = run_action(tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"}, job_env=job_env)

    assert result.exit_code == 0, result.log
    assert proxy.received == [], "a request went through the proxy"
    assert len(standin.requests_to("trigger")) == 1


@pytest.mark.parametrize(("status", "reason"), [(407, "Proxy Authentication Required"), (403, "Forbidden")])
def test_a_proxy_refusing_connect_means_nothing_was_sent_and_is_not_retried(
    tmp_path: Path, inputs: dict[str, str], proxy: RecordingProxy, status: int, reason: str
) -> None:
    proxy.connect_status, proxy.connect_reason = status, reason
    job_env = {"https_proxy": proxy.url, "HTTPS_PROXY": proxy.url}
    result = run_action(tmp_path, {**inputs, "api-url": "https://127.0.0.1:9"}, job_env=job_env)

    assert result.exit_code == 1, result.log
    [error] = result.errors
    assert f"{status} {reason}" in error
    assert "nothing was sent" in error
    assert "may have been created" not in error
    assert len(proxy.received) == 1, "a refused CONNECT is not retried"
    assert proxy.received[0].startswith(b"CONNECT 127.0.0.1:9 ")
    assert API_TOKEN_DEFAULT.encode() not in b"".join(proxy.received)
    assert result.outputs.get("run-id", "") == ""


@pytest.fixture(scope="module")
def private_ca(tmp_path_factory: pytest.TempPathFactory) -> PrivateCA:
    return make_private_ca(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_standin(private_ca: PrivateCA) -> Iterator[NorthflankStandin]:
    server = NorthflankStandin()
    server.tls = (private_ca.certificate, private_ca.key)
    with server:
        yield server


def test_an_unknown_ca_is_reported_as_a_certificate_problem_and_not_retried(
    tmp_path: Path, tls_standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, {**inputs, "api-url": tls_standin.url})

    assert result.exit_code == 1, result.log
    [error] = result.errors
    assert "TLS certificate could not be verified" in error
    assert "unable to get local issuer certificate" in error
    assert "SSL_CERT_FILE" in error
    assert "Retrying" not in result.log
    assert tls_standin.connections == 1, "a certificate failure is not retried"
    assert tls_standin.requests == []


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
def test_a_ca_bundle_from_the_runner_environment_is_trusted(
    tmp_path: Path, tls_standin: NorthflankStandin, inputs: dict[str, str], private_ca: PrivateCA, variable: str
) -> None:
    given = {**inputs, "api-url": tls_standin.url, "wait": "true", "poll-interval": "1s"}
    result = run_action(tmp_path, given, job_env={variable: str(private_ca.ca)})

    assert result.exit_code == 0, result.log
    [run] = tls_standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert result.outputs["status"] == "success"


def test_a_ca_bundle_that_does_not_exist_in_the_container_is_an_input_error(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    result = run_action(tmp_path, inputs, job_env={"SSL_CERT_FILE": "/home/runner/corp-ca.pem"})

    assert result.exit_code == 1
    [error] = result.errors
    assert error.startswith("Invalid input: SSL_CERT_FILE:")
    assert "/home/runner/corp-ca.pem" in error
    assert "does not exist in the action's container" in error
    assert standin.requests == []
