"""The deployment files can't rot: the Procfile's and compose's commands parse with the CLI's own
parser, compose has the services docs/deployment.md describes, and every variable they or
deploy/env.example set is one the app reads and the README documents."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from honcho.environ import parse as parse_env_file
from honcho.environ import parse_procfile
from pydantic import AliasChoices, BaseModel

from bot.cli import _parser
from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
APP_SERVICES = ("migrate", "web", "worker")


def settings_variables(model: type[BaseModel] = Settings) -> set[str]:
    """Every environment variable a settings section reads (its fields' aliases)."""
    found: set[str] = set()
    for field in model.model_fields.values():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            found |= settings_variables(kind)
        elif isinstance(field.validation_alias, AliasChoices):
            found |= {c for c in field.validation_alias.choices if isinstance(c, str)}
    return found


def documented_variables() -> set[str]:
    """The variables named in the first column of README's Configuration table."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    return {name for cell in first_cells for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)}


KNOWN = settings_variables() & documented_variables()


def split_command(command: str, port: str = "5000") -> tuple[dict[str, str], list[str]]:
    """A Procfile line as honcho runs it: `NAME=value` assignments, then the command."""
    words = shlex.split(command.replace("$PORT", port))
    env = {}
    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


def cli_args(words: list[str]) -> Any:
    assert words[0] == "countersign", words
    return _parser().parse_args(words[1:])


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "deploy/compose.yaml").read_text())
    return loaded


def test_the_app_reads_variables_the_readme_documents() -> None:
    # The check below is only as good as this intersection: a broken parse would empty it.
    assert {"DATABASE_URL", "REDIS_URL", "SLACK_SIGNING_SECRET", "COUNTERSIGN_WORKERS"} <= KNOWN


def test_procfile_runs_http_web_processes_on_port_and_workers() -> None:
    processes = parse_procfile((ROOT / "Procfile").read_text()).processes
    assert set(processes) == {"web", "worker"}
    web_env, web = split_command(processes["web"], port="5001")
    worker_env, worker = split_command(processes["worker"], port="5101")
    served = cli_args(web)
    assert (served.command, served.http, served.port) == ("serve", True, 5001)
    assert cli_args(worker).command == "worker"
    assert set(web_env) | set(worker_env) <= KNOWN
    assert worker_env.get("COUNTERSIGN_METRICS_PORT") == "5101"  # two workers on one host


def test_compose_has_the_services_of_the_guide() -> None:
    services = compose()["services"]
    assert set(services) == {"postgres", "redis", *APP_SERVICES}
    assert "--appendonly" in services["redis"]["command"]
    assert services["redis"]["command"][services["redis"]["command"].index("--appendonly") + 1] == (
        "yes"
    )
    assert cli_args(services["migrate"]["command"]).command == "migrate"
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker"):
        assert services[name]["deploy"]["replicas"] == 2
        waits_for = services[name]["depends_on"]["migrate"]["condition"]
        assert waits_for == "service_completed_successfully"
    served = cli_args(services["web"]["command"])
    assert (served.command, served.http) == ("serve", True)
    assert cli_args(services["worker"]["command"]).command == "worker"


@pytest.mark.parametrize("service", APP_SERVICES)
def test_compose_sets_only_variables_the_app_reads(service: str) -> None:
    environment = compose()["services"][service]["environment"]
    assert {"DATABASE_URL", "REDIS_URL"} <= set(environment)
    assert set(environment) <= KNOWN, set(environment) - KNOWN


def test_env_example_sets_only_variables_the_app_reads() -> None:
    example = parse_env_file((ROOT / "deploy/env.example").read_text())
    assert {"SLACK_SIGNING_SECRET", "DATABASE_URL", "REDIS_URL", "ANTHROPIC_API_KEY"} <= set(
        example
    )
    assert set(example) <= KNOWN, set(example) - KNOWN
    commented = re.findall(
        r"^# ([A-Z][A-Z0-9_]+)=", (ROOT / "deploy/env.example").read_text(), re.M
    )
    assert set(commented) <= KNOWN, set(commented) - KNOWN
