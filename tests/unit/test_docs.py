"""The documentation says what the repository does: tables checked against the code."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import yaml

from merchstore import cli
from merchstore.services import SERVICES
from merchstore.store_api.api import create_app
from tests.support.paths import REPOSITORY

HOW_IT_WORKS = (REPOSITORY / "docs" / "how-it-works.md").read_text()


def table(text: str, name: str) -> list[list[str]]:
    """The rows of the table between ``<!-- name ... -->`` and ``<!-- end name -->``."""
    block = text.split(f"<!-- {name}")[1].split(f"<!-- end {name} -->")[0]
    lines = [line for line in block.splitlines() if line.startswith("|")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_the_auth_table_is_what_store_api_enforces() -> None:
    document = create_app().openapi()
    needs_token = {
        f"{method.upper()} {path}": bool(operation.get("security"))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    }
    documented = {}
    for routes, token, _who in table(HOW_IT_WORKS, "auth-table"):
        for route in re.findall(r"`([A-Z]+ [^`]+)`", routes):
            documented[route] = token == "yes"
    assert documented == needs_token


def test_the_network_table_is_what_compose_wires() -> None:
    services = yaml.safe_load((REPOSITORY / "deploy" / "docker-compose.yml").read_text())[
        "services"
    ]
    wired = {
        name: (sorted(service.get("networks", [])), sorted(service.get("ports", [])))
        for name, service in services.items()
        if "networks" in service
    }
    documented = {}
    for name, networks, published in table(HOW_IT_WORKS, "network-table"):
        ports = re.findall(r"`([^`]+)`|(\d+\.\d+\.\d+\.\d+:\d+)", published)
        documented[name] = (
            sorted(n.strip() for n in networks.split(",")),
            [p or q for p, q in ports],
        )
    assert set(documented) == set(wired)
    for name, (wired_networks, wired_ports) in wired.items():
        assert documented[name][0] == wired_networks, name
        for port in wired_ports:
            host_side = port.rsplit(":", 1)[0]
            assert any(host_side in shown for shown in documented[name][1]), (name, port)
        assert bool(documented[name][1]) == bool(wired_ports), name


def documentation_pages() -> list[Path]:
    """The README and every page of the documentation site."""
    pages = sorted((REPOSITORY / "docs").rglob("*.md"))
    return [REPOSITORY / "README.md", *(p for p in pages if "node_modules" not in p.parts)]


def test_every_relative_link_in_the_docs_points_at_a_file() -> None:
    for page in documentation_pages():
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_is_a_door_to_the_site() -> None:
    readme = (REPOSITORY / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    # Every page it sends the reader to is in the site's navigation, and every page of the
    # site is reachable from the README or the site's home page.
    site = yaml.load((REPOSITORY / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    navigation = set(re.findall(r"[\w/-]+\.md", str(site["nav"])))
    linked = set(re.findall(r"\]\(docs/([^)#]+\.md)", readme))
    assert linked and linked <= navigation, linked - navigation
    pages = {str(p.relative_to(REPOSITORY / "docs")) for p in documentation_pages()[1:]}
    assert pages == navigation, pages ^ navigation


def test_the_readme_links_the_interface_and_the_report_not_a_sibling_folder() -> None:
    readme = (REPOSITORY / "README.md").read_text()
    assert "docs/interface.md" in readme and "docs/how-it-works.md" in readme
    assert "../shared" not in readme


def _leaf_commands(
    command: click.Command, prefix: str = "merchstore"
) -> Iterator[tuple[str, click.Command]]:
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from _leaf_commands(sub, f"{prefix} {name}")
    else:
        yield prefix, command


def test_the_command_table_lists_every_command_with_every_option() -> None:
    interface = (REPOSITORY / "docs" / "interface.md").read_text()
    rows = {
        m[1]: m[0]
        for m in re.findall(r"^\| `((merchstore [a-z-]+(?: tail)?)[^`]*)` \|", interface, re.M)
    }
    commands = dict(_leaf_commands(cli.main))
    assert set(rows) == set(commands)
    for name, command in commands.items():
        for parameter in command.params:
            if isinstance(parameter, click.Option):
                assert any(
                    opt in rows[name].split() or f"[{opt}" in rows[name] for opt in parameter.opts
                ), (name, parameter.opts)
            else:
                assert parameter.human_readable_name in rows[name], (
                    name,
                    parameter.human_readable_name,
                )


def _properties(document: dict[str, Any], path: str, method: str) -> set[str]:
    schema = document["paths"][path][method]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    if "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema["properties"])


def test_the_documented_answer_shapes_are_the_served_ones() -> None:
    interface = (REPOSITORY / "docs" / "interface.md").read_text()
    for method, path, service in [
        ("get", "/stats", "processor"),
        ("post", "/runs", "processor"),
        ("get", "/events/count", "storage"),
    ]:
        shape = re.search(rf"`{method.upper()} {re.escape(path)}` → `(\{{.*?\}})`", interface, re.S)
        assert shape, f"{method.upper()} {path} has no documented shape"
        # Top-level keys only: nested objects are written {…} or with their own keys.
        top = re.sub(r"\{[^{}]*\}", "", shape[1][1:-1])
        documented = set(re.findall(r'"(\w+)":', top))
        served = yaml.safe_load((REPOSITORY / "docs" / "openapi" / f"{service}.yaml").read_text())
        assert documented == _properties(served, path, method), (path, documented)


def test_the_readme_services_table_names_every_service_on_its_default_port() -> None:
    readme = (REPOSITORY / "README.md").read_text()
    table = dict(re.findall(r"^\| ([a-z-]+) \| .* \| (\d+) \|$", readme, re.M))
    defaults = yaml.safe_load((REPOSITORY / "src/merchstore/config/merchstore.yaml").read_text())
    assert table == {
        spec.name: str(defaults[spec.name.replace("-", "_")]["port"]) for spec in SERVICES
    }


def test_the_limits_table_names_real_metrics_and_settings() -> None:
    limits = (REPOSITORY / "docs" / "limits.md").read_text()
    sources = "\n".join(path.read_text() for path in (REPOSITORY / "src").rglob("*.py"))
    metrics = set(re.findall(r"`([a-z_]+_(?:total|rows|messages|stalled))", limits))
    assert {"log_shipping_dropped_lines_total", "outbox_pending_rows"} <= metrics
    for metric in metrics:
        assert f'"{metric}"' in sources, f"docs/limits.md names {metric}, which no code defines"
    defaults = yaml.safe_load((REPOSITORY / "src/merchstore/config/merchstore.yaml").read_text())
    settings = set(re.findall(r"`([a-z_]+)\.([a-z_]+)`", limits))
    assert ("log_shipping", "queue_size") in settings
    for section, key in settings:
        assert key in (defaults.get(section) or {}), f"docs/limits.md names {section}.{key}"
