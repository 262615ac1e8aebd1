"""docker/compose.yaml against the code: every service, port, module and NOL_ variable it names exists."""

import importlib
import json
import re
from pathlib import Path

import pytest
import yaml

from services.kit.settings import SERVICES, Settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = yaml.safe_load((DOCKER / "compose.yaml").read_text())
APPS = {**{name: f"services.{name}.main" for name in SERVICES}, "gateway": "api_gateway.main"}
DEFAULTS = Settings(_env_file=None)


def _env(service: dict) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def _option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_every_service_and_the_gateway_run_from_the_one_image():
    services = COMPOSE["services"]
    for name in APPS:
        assert name in services, name
        assert services[name]["image"] == "notoneless:latest"
        assert services[name]["build"]["dockerfile"] == "docker/Dockerfile"


@pytest.mark.parametrize("name", SERVICES)
def test_two_replicas_and_a_readiness_check_per_service(name):
    service = COMPOSE["services"][name]
    assert service["deploy"]["replicas"] == 2
    port = _option(service["command"], "--port")
    assert f"localhost:{port}/readyz" in " ".join(service["healthcheck"]["test"])


@pytest.mark.parametrize("name", list(APPS))
def test_commands_name_real_app_factories_on_the_default_ports(name):
    command = COMPOSE["services"][name]["command"]
    assert command[:1] == ["uvicorn"] and "--factory" in command
    module, _, factory = command[1].partition(":")
    assert module == APPS[name]
    assert callable(getattr(importlib.import_module(module), factory))
    port = int(_option(command, "--port"))
    assert port == (DEFAULTS.gateway_port if name == "gateway" else DEFAULTS.port_of(name))
    assert _option(command, "--host") == "0.0.0.0"


def test_python_module_commands_exist():
    for name, service in COMPOSE["services"].items():
        command = service.get("command") or []
        if command[:2] == ["python", "-m"]:
            assert importlib.util.find_spec(command[2]) is not None, (name, command)


def test_every_nol_variable_is_a_setting():
    fields = {f"NOL_{name.upper()}" for name in Settings.model_fields}
    named = set()
    for service in COMPOSE["services"].values():
        named |= {k for k in _env(service) if k.startswith("NOL_")}
    text = (DOCKER / "compose.yaml").read_text() + (DOCKER / "RUNBOOK.md").read_text()
    named |= set(re.findall(r"\bNOL_[A-Z_]+\b", text)) - {"NOL_OWNER_PASSWORD", "NOL_PUBLIC_URL"}
    assert named, "no NOL_ variables found"
    assert named <= fields, sorted(named - fields)


@pytest.mark.parametrize("name", list(APPS))
def test_every_setting_given_parses(name, monkeypatch):
    env = _env(COMPOSE["services"][name])
    for key, value in env.items():
        if key.startswith("NOL_"):
            monkeypatch.setenv(key, re.sub(r"\$\{[^}]*\}", "x", value))
    monkeypatch.setenv("NOL_DATA_KEY", "A" * 43 + "=")
    settings = Settings(_env_file=None)
    assert settings.stream_replicas == 3
    assert settings.nats_url and settings.database_url


def test_gateway_finds_each_service_by_name_and_port():
    env = _env(COMPOSE["services"]["gateway"])
    urls = json.loads(env["NOL_SERVICE_URLS"])
    assert set(urls) == set(SERVICES)
    for name, url in urls.items():
        assert url == f"http://{name}:{DEFAULTS.port_of(name)}"
    settings = Settings(_env_file=None, service_urls=urls)
    assert settings.service_url("registry") == "http://registry:8001"
    assert COMPOSE["services"]["gateway"]["ports"] == [f"{DEFAULTS.gateway_port}:{DEFAULTS.gateway_port}"]


def test_three_nats_nodes_clustered_and_the_stream_at_three_replicas():
    services = COMPOSE["services"]
    nodes = [f"nats-{i}" for i in (1, 2, 3)]
    for node in nodes:
        assert services[node]["environment"]["SERVER_NAME"] == node
        assert "healthcheck" in services[node]
    env = _env(services["registry"])
    assert env["NOL_NATS_URL"].split(",") == [f"nats://{n}:4222" for n in nodes]
    assert env["NOL_STREAM_REPLICAS"] == "3"
    conf = (DOCKER / "nats.conf").read_text()
    for node in nodes:
        assert f"nats-route://{node}:6222" in conf
    assert "sync_interval: always" in conf


def test_services_wait_for_migrations_and_the_broker():
    for name in APPS:
        after = COMPOSE["services"][name]["depends_on"]
        assert after["migrate"]["condition"] == "service_completed_successfully"
        assert all(after[f"nats-{i}"]["condition"] == "service_healthy" for i in (1, 2, 3))
    assert COMPOSE["services"]["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dockerfile_copies_what_exists():
    for line in (DOCKER / "Dockerfile").read_text().splitlines():
        if line.startswith("COPY "):
            for src in line.split()[1:-1]:
                assert (ROOT / src).exists(), src


def test_runbook_covers_every_schema():
    runbook = (DOCKER / "RUNBOOK.md").read_text()
    for schema in (*SERVICES, "gateway"):
        assert f"-n {schema}" in runbook, schema
    for topic in ("Backup", "Restore", "Replay", "Rotat"):
        assert topic in runbook, topic
