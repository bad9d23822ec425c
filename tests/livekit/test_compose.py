"""docker-compose.yml: valid against the Compose Specification JSON schema, and in step with livekit.yaml.

There is no Docker engine on this machine: the schema (from the npm package `dclint`, installed by
``scripts/setup --dev`` through scripts/install-compose-schema) is what is checked here.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from theo_rtc.transports.livekit.devserver import PINNED_VERSION

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / ".tools" / "compose-spec" / "compose.schema.json"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def livekit_yaml() -> dict[str, Any]:
    return yaml.safe_load((REPO / "livekit.yaml").read_text())


def _check_text(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else shlex.join(test)


def _command_text(service: dict[str, Any]) -> str:
    command = service["command"]
    return command if isinstance(command, str) else " ".join(command)


def _flag(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_compose_file_matches_the_compose_specification(compose: dict[str, Any]) -> None:
    assert SCHEMA.is_file(), f"{SCHEMA} is missing: run scripts/setup --dev (scripts/install-compose-schema)"
    schema = json.loads(SCHEMA.read_text())
    assert schema["title"] == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_the_schema_catches_mistakes(compose: dict[str, Any]) -> None:
    """The validation above has teeth: a misspelt key and a wrong type are rejected."""
    schema = json.loads(SCHEMA.read_text())
    broken = yaml.safe_load(yaml.safe_dump(compose))
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    broken["services"]["livekit-server"]["depends_on"] = 3
    messages = [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken)]
    assert any("helthcheck" in m for m in messages) and len(messages) >= 2, messages


def test_services_and_health_checks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"redis", "livekit-server", "livekit-sip", "theo-serve", "theo-agent"}
    assert services["livekit-sip"]["profiles"] == ["sip"]
    for name, service in services.items():
        # livekit.yaml advertises 127.0.0.1 to WebRTC clients: that holds only on the host's network.
        assert service["network_mode"] == "host", name
        assert "ports" not in service, name
        assert service["healthcheck"]["test"][0] in ("CMD", "CMD-SHELL"), name
    assert "theo serve --host 127.0.0.1 --port 8000" in _command_text(services["theo-serve"])
    assert "http://127.0.0.1:8000/health" in _check_text(services["theo-serve"])
    assert services["theo-agent"]["command"] == ["theo", "agent"]
    assert services["theo-agent"]["image"] == services["theo-serve"]["image"]


def test_livekit_server_runs_livekit_yaml(compose: dict[str, Any], livekit_yaml: dict[str, Any]) -> None:
    server = compose["services"]["livekit-server"]
    assert server["image"] == f"livekit/livekit-server:v{PINNED_VERSION}"
    assert f"./livekit.yaml:{_flag(server['command'], '--config')}:ro" in server["volumes"]
    assert f"http://127.0.0.1:{livekit_yaml['port']}/" in _check_text(server)
    redis_port = _flag(compose["services"]["redis"]["command"], "--port")
    assert _flag(server["command"], "--redis-host") == f"127.0.0.1:{redis_port}"


def test_clients_use_livekit_yaml_port_and_keys(
    compose: dict[str, Any], livekit_yaml: dict[str, Any]
) -> None:
    url = f"ws://127.0.0.1:{livekit_yaml['port']}"
    keys = livekit_yaml["keys"]
    agent = compose["services"]["theo-agent"]["environment"]
    assert agent["LIVEKIT_URL"] == url
    assert keys[agent["LIVEKIT_API_KEY"]] == agent["LIVEKIT_API_SECRET"]

    sip = compose["services"]["livekit-sip"]
    sip_config = yaml.safe_load(sip["environment"]["SIP_CONFIG_BODY"])
    assert sip_config["ws_url"] == url
    assert keys[sip_config["api_key"]] == sip_config["api_secret"]
    assert sip_config["redis"]["address"] == _flag(
        compose["services"]["livekit-server"]["command"], "--redis-host"
    )
    # v1.0.0 has no health port: the check connects to SIP over TCP
    assert re.search(rf"/dev/tcp/127\.0\.0\.1/{sip_config['sip_port']}\b", _check_text(sip))
    # SIP's RTP ports must not overlap livekit-server's ICE/UDP range.
    low, high = (int(p) for p in sip_config["rtp_port"].split("-"))
    rtc = livekit_yaml["rtc"]
    assert high < rtc["port_range_start"] or low > rtc["port_range_end"]
