"""Every path a run can take, inside the image built FROM scratch: each one loads other modules and shared
libraries (the YAML parser, ssl with a CA bundle, the proxy tunnel, the flow chart), so a part the image
left out shows here. Bad input and SIGTERM are covered in test_container_action.py, a failed run too."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import docker
import pytest
from docker.models.images import Image

from testing.flows import build_then_two_regions
from testing.network_peers import RecordingProxy, make_private_ca
from testing.northflank_standin import Fault, NorthflankStandin, RunPlan

from .conftest import WORKSPACE, run_as_runner

pytestmark = pytest.mark.container


def test_a_dry_run_of_yaml_inputs_sends_nothing_and_shows_the_body(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    given = {
        **inputs,
        "dry-run": "true",
        "arguments": "VERSION: v1.4.0\nREPLICAS: 3\nFLAGS: [a, b]",
        "overrides": "build:\n  branch: release/1.4",
    }
    result = run_as_runner(docker_client, action_image, tmp_path, given)

    assert result.exit_code == 0, result.log
    body = json.loads(result.outputs["request"])
    assert body["arguments"] == {"VERSION": "v1.4.0", "REPLICAS": "3", "FLAGS": ["a", "b"]}
    assert body["overrides"] == {"build": {"branch": "release/1.4"}}
    assert "Dry run: would POST" in result.stdout
    # With the token, the plan reads the template (GET) and nothing else; `build` is one of its refs.
    assert [request.method for request in standin.requests] == ["GET"]
    assert standin.requests_to("template")
    assert 'n1["build<br/>StartBuild · overridden"]' in result.summary


def test_trigger_and_wait_ends_with_the_flow_chart_in_the_summary(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    standin.plan = RunPlan.following(build_then_two_regions())
    result = run_as_runner(docker_client, action_image, tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"})

    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "success"
    assert "```mermaid" in result.summary
    assert "deploy-us" in result.summary


def test_answers_that_are_html_or_rate_limited_are_read_again(
    docker_client: docker.DockerClient,
    action_image: Image,
    tmp_path: Path,
    standin: NorthflankStandin,
    inputs: dict[str, str],
) -> None:
    standin.plan = RunPlan(steps=[(0.0, "running"), (4.0, "success")])
    standin.add_fault(Fault("GET", "get", "html", status=200))
    standin.add_fault(Fault("GET", "get", "status", status=429, headers={"Retry-After": "1"}, message="slow down"))
    result = run_as_runner(docker_client, action_image, tmp_path, {**inputs, "wait": "true", "poll-interval": "1s"})

    assert result.exit_code == 0, result.log
    assert result.outputs["status"] == "success"
    assert "sign-in page" in result.log or "captive portal" in result.log
    assert "Rate limited" in result.log
    assert len(standin.requests_to("trigger")) == 1


def test_tls_an_unknown_ca_fails_and_a_ca_bundle_from_ssl_cert_file_is_trusted(
    docker_client: docker.DockerClient, action_image: Image, tmp_path: Path, inputs: dict[str, str]
) -> None:
    ca = make_private_ca(tmp_path / "pki")
    server = NorthflankStandin()
    server.tls = (ca.certificate, ca.key)
    with server:
        refused = run_as_runner(docker_client, action_image, tmp_path / "refused", {**inputs, "api-url": server.url})
        assert refused.exit_code == 1, refused.log
        assert any("TLS certificate could not be verified" in error for error in refused.errors), refused.errors
        assert server.requests == []

        (tmp_path / "trusted" / "workspace").mkdir(parents=True)
        shutil.copy(ca.ca, tmp_path / "trusted" / "workspace" / "corp-ca.pem")
        trusted = run_as_runner(
            docker_client,
            action_image,
            tmp_path / "trusted",
            {**inputs, "api-url": server.url},
            job_env={"SSL_CERT_FILE": f"{WORKSPACE}/corp-ca.pem"},
        )
        assert trusted.exit_code == 0, trusted.log
        [run] = server.runs()
        assert trusted.outputs["run-id"] == run["id"]


def test_a_proxy_refusing_the_tunnel_stops_before_anything_is_sent(
    docker_client: docker.DockerClient, action_image: Image, tmp_path: Path, inputs: dict[str, str]
) -> None:
    with RecordingProxy() as proxy:
        given = {**inputs, "api-url": "https://127.0.0.1:9"}
        result = run_as_runner(docker_client, action_image, tmp_path, given, job_env={"HTTPS_PROXY": proxy.url})

    assert result.exit_code == 1, result.log
    assert result.errors, result.log
    assert "407" in result.log
    assert len(proxy.received) == 1
    assert proxy.received[0].startswith(b"CONNECT 127.0.0.1:9 ")
