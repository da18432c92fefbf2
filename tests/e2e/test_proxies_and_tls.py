"""The networks of self-hosted runners: forward proxies and TLS inspection with a private CA.

Real peers (testing/network_peers.py): a proxy server that records what reaches it and refuses CONNECT as
corporate proxies do, and a certificate authority made with openssl, trusted by the stand-in's https.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from testing.network_peers import PrivateCA, RecordingProxy, make_private_ca
from testing.northflank_standin import API_TOKEN_DEFAULT, Fault, NorthflankStandin
from testing.runner import run_action

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
    assert "may have been created" not in result.log  # nothing was sent, so nothing is looked up


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


def test_a_tls_stream_broken_after_the_request_went_out_is_looked_up_not_resent(
    tmp_path: Path, tls_standin: NorthflankStandin, inputs: dict[str, str], private_ca: PrivateCA
) -> None:
    """Bytes outside TLS after the request was read: an OpenSSL error, but not a handshake one."""
    tls_standin.add_fault(Fault("POST", "trigger", "garble"))
    result = run_action(tmp_path, {**inputs, "api-url": tls_standin.url}, job_env={"SSL_CERT_FILE": str(private_ca.ca)})

    assert result.exit_code == 0, result.log
    assert len(tls_standin.requests_to("trigger")) == 1, "sent twice: the run would exist twice"
    [run] = tls_standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert "TLS handshake failed" not in result.log
    assert "the TLS connection failed after it was set up" in result.log


def test_a_connection_dropped_through_a_proxy_tunnel_is_looked_up_not_called_a_refusal(
    tmp_path: Path, tls_standin: NorthflankStandin, inputs: dict[str, str], private_ca: PrivateCA, proxy: RecordingProxy
) -> None:
    """urllib3 reports this drop as a ProxyError too; only a refused CONNECT means nothing was sent."""
    proxy.connect_status, proxy.connect_reason = 200, "Connection established"
    tls_standin.add_fault(Fault("POST", "trigger", "drop", create_first=True))
    job_env = {"SSL_CERT_FILE": str(private_ca.ca), "https_proxy": proxy.url, "NORTHFLANK_HTTP_TIMEOUT": "2"}
    result = run_action(tmp_path, {**inputs, "api-url": tls_standin.url}, job_env=job_env)

    assert result.exit_code == 0, result.log
    assert "nothing was sent" not in result.log
    assert len(tls_standin.requests_to("trigger")) == 1
    [run] = tls_standin.runs()
    assert result.outputs["run-id"] == run["id"]
    assert any(request.startswith(b"CONNECT 127.0.0.1:") for request in proxy.received)


def test_an_upper_case_plain_http_url_is_not_proxied_either(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str], proxy: RecordingProxy
) -> None:
    job_env = dict.fromkeys(PROXY_VARIABLES, proxy.url)
    result = run_action(tmp_path, {**inputs, "api-url": standin.url.replace("http://", "HTTP://")}, job_env=job_env)

    assert result.exit_code == 0, result.log
    assert proxy.received == []
    assert len(standin.requests_to("trigger")) == 1


def test_a_ca_bundle_openssl_cannot_read_is_an_input_error(
    tmp_path: Path, tls_standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """A DER file or a typo'd one would otherwise fail every handshake, five times over."""
    not_pem = tmp_path / "corp-ca.cer"
    not_pem.write_bytes(b"\x30\x82\x03\x0b not a PEM certificate")
    result = run_action(tmp_path, {**inputs, "api-url": tls_standin.url}, job_env={"SSL_CERT_FILE": str(not_pem)})

    assert result.exit_code == 1
    [error] = result.errors
    assert error.startswith("Invalid input: SSL_CERT_FILE:")
    assert "must be PEM" in error
    assert tls_standin.connections == 0


def test_a_page_that_echoes_the_token_is_quoted_without_any_of_it(
    tmp_path: Path, standin: NorthflankStandin, inputs: dict[str, str]
) -> None:
    """The error quotes the first bytes of what came back; the token must not survive in a cut preview."""
    standin.add_fault(Fault("POST", "trigger", "html", status=200, echo=True))
    standin.add_fault(Fault("GET", "list", "html", status=200, echo=True, times=50))
    # The list never answers, so a short trigger budget ends the lookup soon.
    result = run_action(tmp_path, inputs, job_env={"NORTHFLANK_TRIGGER_RETRY_SECONDS": "4"})

    assert result.exit_code == 1
    [error] = result.errors
    assert "Authorization: Bearer" in error  # the preview reaches into the token's place
    written = [line for line in result.log.splitlines() if not line.startswith("::add-mask::")]
    for length in (8, 12, 20):
        assert API_TOKEN_DEFAULT[:length] not in "\n".join(written) + result.summary + result.raw_outputs
