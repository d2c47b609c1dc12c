"""The ``merchstore`` command: run the system, run one service, watch topics."""

from __future__ import annotations

import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING

import click

from merchstore.common.config.errors import ConfigError
from merchstore.common.config.grpc_tls import TlsMaterial
from merchstore.common.messages import EVENT_TYPES
from merchstore.common.run_folder import broker_of_running_system
from merchstore.services import SERVICES
from merchstore.settings import Settings, load_settings

if TYPE_CHECKING:
    from rich.console import Console


def _note(line: str) -> None:
    """A note about a command itself, on stderr, so that stdout holds only what it prints."""
    click.echo(f"merchstore: {line}", err=True)


def _settings(**overrides: object) -> Settings:
    try:
        return load_settings(**{k: v for k, v in overrides.items() if v is not None})
    except ConfigError as error:
        _note(str(error))
        sys.exit(2)


def _grpc_tls(settings: Settings) -> TlsMaterial | None:
    """The gRPC certificate of this process, if TLS is on; a bad one: one line, exit 2."""
    try:
        return settings.grpc_tls.material()
    except ConfigError as error:
        _note(str(error))
        sys.exit(2)


def _tail_settings(data_dir: Path | None) -> Settings:
    """Settings for a tail whose broker was found and answers; else one line and exit 1.

    The broker is the configured one or that of a `merchstore up` on the data directory; a
    broker that does not answer is reported within 15 s.
    """
    from merchstore.common.kafka.clients import BrokerUnavailable

    try:
        settings = _with_running_broker(_settings(data_dir=data_dir))
    except (ConfigError, BrokerUnavailable) as error:
        _note(str(error))
        sys.exit(1)
    return settings


@click.group()
@click.version_option(package_name="merchstore")
def main() -> None:
    """merchstore: an event-driven merch store with centralised event logging."""


@main.command(short_help="Run the whole system here, in the foreground.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where databases and logs live (default: MERCHSTORE_DATA_DIR or .merchstore).",
)
@click.option(
    "--store-api-replicas",
    type=click.IntRange(1, 16),
    help="Run N store-api replicas behind a local NGINX (when installed) on store-api's port.",
)
@click.option(
    "--prometheus",
    is_flag=True,
    help="Also run Prometheus (when installed) scraping every service, on port 9090.",
)
@click.option(
    "--tracing",
    is_flag=True,
    help="Also run a trace backend (Zipkin, on Java 17+) at :9411/zipkin/ and send it every "
    "service's spans.",
)
@click.option(
    "--broker",
    type=click.Choice(["embedded", "kafka"]),
    help="The broker to run: embedded (tansu, memory only; the default) or kafka (Apache Kafka, "
    "one KRaft node on Java 17+, kept under the data directory).",
)
def up(
    data_dir: Path | None,
    store_api_replicas: int | None,
    prometheus: bool,
    tracing: bool,
    broker: str | None,
) -> None:
    """Start the whole system in the foreground; Ctrl-C, SIGTERM or a closed terminal stops it."""
    from merchstore.runtime.up import run_up

    # Children read the same values from the environment.
    if data_dir is not None:
        os.environ["MERCHSTORE_DATA_DIR"] = str(data_dir.resolve())
    if store_api_replicas is not None:
        os.environ["MERCHSTORE_STORE_API__REPLICAS"] = str(store_api_replicas)
    if broker is not None:
        os.environ["MERCHSTORE_EMBEDDED__BROKER"] = broker
    settings = _settings()
    sys.exit(run_up(settings, _say_while_possible, prometheus, tracing))


def _say_while_possible(line: str) -> None:
    """Print one line of ``up``'s report; once the terminal is gone, go on without it.

    A closed terminal window makes every later write fail, and ``up`` still has everything it
    started to stop (its services keep logging to their files).
    """
    with suppress(OSError):
        click.echo(line)


SERVICE_NAMES = click.Choice([spec.name for spec in SERVICES])
"""Every service, listed in each command's --help."""
HTTP_SERVICE_NAMES = click.Choice([spec.name for spec in SERVICES if spec.protocol == "http"])
"""The services with an OpenAPI document."""


def _one_of(choice: click.Choice[str]) -> str:
    """The help line naming a command's SERVICE choices whole (click's usage line wraps them)."""
    return "SERVICE is one of: " + ", ".join(str(name) for name in choice.choices) + "."


@main.command(epilog=_one_of(SERVICE_NAMES), short_help="Run one service in the foreground.")
@click.argument("service", type=SERVICE_NAMES, metavar="SERVICE")
def serve(service: str) -> None:
    """Run one service in the foreground (what `up` and containers start)."""
    from merchstore.common.kafka.clients import BrokerUnavailable
    from merchstore.common.postgres import DatabaseUnavailable
    from merchstore.services import find_service
    from merchstore.services import serve as serve_service

    settings = _settings()
    try:
        find_service(service)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="SERVICE") from None
    try:
        serve_service(service, settings)
    except (ConfigError, BrokerUnavailable, DatabaseUnavailable) as error:
        click.echo(f"{service}: {error}", err=True)
        sys.exit(2)


@main.command(
    epilog=_one_of(HTTP_SERVICE_NAMES), short_help="Print an HTTP service's OpenAPI document."
)
@click.argument("service", type=HTTP_SERVICE_NAMES, metavar="SERVICE")
def openapi(service: str) -> None:
    """Print the OpenAPI document (YAML) of an HTTP service, as kept in docs/openapi/."""
    from merchstore.common.http.openapi import openapi_document, to_yaml
    from merchstore.services import find_service

    try:
        spec = find_service(service)
    except KeyError as error:
        raise click.BadParameter(str(error.args[0]), param_hint="SERVICE") from None
    click.echo(to_yaml(openapi_document(spec.api_module)), nl=False)


@main.command(short_help="Print the AsyncAPI document of the topics.")
def asyncapi() -> None:
    """Print the AsyncAPI 3 document (YAML) of the Kafka topics, as kept in docs/asyncapi.yaml."""
    from merchstore.common.asyncapi import render_asyncapi

    click.echo(render_asyncapi(), nl=False)


@main.command(epilog=_one_of(SERVICE_NAMES), short_help="Exit 0 if a service is ready.")
@click.argument(
    "service", type=SERVICE_NAMES, required=False, envvar="MERCHSTORE_SERVICE", metavar="SERVICE"
)
def health(service: str | None) -> None:
    """Exit 0 if SERVICE (or $MERCHSTORE_SERVICE) answers its health check as ready, else 1."""
    # Only the probe's own clients: a container's healthcheck runs this every few seconds,
    # and the supervisor's program table or the Kafka client would double its start time.
    from merchstore.common.health_probe import check_health
    from merchstore.services import find_service

    if not service:
        raise click.UsageError("name a service, or set MERCHSTORE_SERVICE")
    spec = find_service(service)
    settings = _settings()
    endpoint = spec.endpoint(settings)
    host = "127.0.0.1" if endpoint.host in ("0.0.0.0", "::") else endpoint.host
    # Within the container healthcheck's 15 s, however busy the host.
    answer = check_health(
        spec.protocol, host, endpoint.port, timeout_s=5.0, tls=_grpc_tls(settings)
    )
    url = f"{spec.protocol}://{host}:{endpoint.port}"
    click.echo(f"{service}: {'ready' if answer.ready else 'not ready'} ({url})")
    sys.exit(0 if answer.ready else 1)


@main.command(short_help="Print the health of every running service.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="The data directory of the running `merchstore up` (default: MERCHSTORE_DATA_DIR or "
    ".merchstore): its services are asked where it put them.",
)
def status(data_dir: Path | None) -> None:
    """Print the health of every service of a running system; exit 1 unless all are ready."""
    from urllib.parse import urlsplit

    from merchstore.common.health_probe import check_health
    from merchstore.runtime.up import service_urls

    settings = _settings(data_dir=data_dir)
    urls, tls = service_urls(settings), _grpc_tls(settings)
    all_ready = True
    for spec in SERVICES:
        where = urlsplit(urls[spec.name])
        answer = check_health(
            spec.protocol, where.hostname or "", where.port or 0, timeout_s=2.0, tls=tls
        )
        all_ready = all_ready and answer.ready
        state = "ready" if answer.ready else "NOT READY"
        click.echo(f"{spec.name:<16} {state:<10} {urls[spec.name]}")
    sys.exit(0 if all_ready else 1)


@main.command("prometheus-config", short_help="Print Compose's Prometheus configuration.")
def prometheus_config() -> None:
    """Print Prometheus's configuration for the Docker Compose deployment (deploy/prometheus/)."""
    from merchstore.runtime.prometheus import compose_prometheus_config

    click.echo(compose_prometheus_config(), nl=False)


@main.command("nginx-config", short_help="Print Compose's NGINX configuration.")
def nginx_config() -> None:
    """Print the NGINX configuration of the Docker Compose deployment (deploy/nginx/)."""
    from merchstore.runtime.load_balancer import compose_nginx_config

    click.echo(compose_nginx_config(), nl=False)


@main.command("config-defaults", short_help="Print every setting with its default.")
def config_defaults() -> None:
    """Print every setting with its default: the packaged config/merchstore.yaml."""
    from merchstore.settings import render_default_config

    click.echo(render_default_config(), nl=False)


@main.command("compose-secrets", short_help="Make the Compose deployment's secret files.")
@click.argument(
    "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("deploy/secrets")
)
@click.option(
    "--postgres-db",
    default="merchstore",
    show_default=True,
    help="The database the services' URLs name (POSTGRES_DB in .env).",
)
def compose_secrets(directory: Path, postgres_db: str) -> None:
    """Make the Docker Compose deployment's secret files (random), once.

    The JWT secret; PostgreSQL's superuser password, and a password and URL per service role;
    the deployment's CA with a certificate and key for each gRPC party, PostgreSQL, the Kafka
    broker and kafka-init; a password per Kafka user; and the administrator's
    login to the published Kafka port (kafka-administrator.yaml, for MERCHSTORE_CONFIG_FILE).
    The folder is private (mode 0700) and the files in it readable (0644) by the containers'
    own user, which does not own them. Existing files keep their content: running it again
    changes nothing but their modes.
    """
    from merchstore.runtime.compose_access import write_compose_access
    from merchstore.runtime.deploy_secrets import write_compose_secrets

    for path, made in [
        *write_compose_secrets(directory, postgres_db),
        *write_compose_access(directory),
    ]:
        click.echo(f"{'made' if made else 'kept'} {path}")


@main.command("kafka-setup", short_help="Make a secured Kafka's topics, users and ACLs.")
@click.option(
    "--passwords",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("/run/secrets"),
    show_default=True,
    help="The folder of the users' password files (kafka_password_<user>).",
)
def kafka_setup(passwords: Path) -> None:
    """Create the topics, a Kafka user per service and each one's ACLs (docs/security.md).

    Run as a super user of the cluster (the Compose deployment's kafka-init logs in by its
    certificate); safe to run again.
    """
    from merchstore.common.kafka.clients import BrokerUnavailable
    from merchstore.tools.kafka_setup import set_up_kafka

    settings = _settings()
    try:
        for line in set_up_kafka(settings, passwords):
            click.echo(line)
    except (ConfigError, BrokerUnavailable) as error:
        _note(str(error))
        sys.exit(2)


@main.group()
def logs() -> None:
    """Operation logs of the services (the log-channel topic)."""


DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The data directory of the running `merchstore up` (default: .merchstore).",
)


MAX_MESSAGES_OPTION = click.option(
    "-n",
    "--max-messages",
    type=click.IntRange(min=1),
    default=None,
    help="Exit after printing this many.",
)
JSON_OPTION = click.option(
    "--json", "as_json", is_flag=True, help="Print each message as its raw JSON, one per line."
)


@logs.command("tail")
@click.option("--from-beginning", is_flag=True, help="Print what log-channel already holds first.")
@click.option("--service", default=None, help="Only lines of this service (e.g. store-api).")
@click.option(
    "--level",
    type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"], case_sensitive=False),
    default=None,
    help="Only lines at this level or above.",
)
@click.option(
    "--trace",
    default=None,
    help="Only lines of this request: its W3C trace id, or the X-Request-ID the client sent.",
)
@MAX_MESSAGES_OPTION
@JSON_OPTION
@DATA_DIR_OPTION
def logs_tail(
    from_beginning: bool,
    service: str | None,
    level: str | None,
    trace: str | None,
    max_messages: int | None,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Print each log line as it arrives and append it to logs/log_YYYYMMDD_HH.jsonl."""
    from merchstore.tools.log_tail import tail_logs

    settings = _tail_settings(data_dir)
    try:
        from merchstore.common.serving.signals import stop_requests

        with stop_requests() as stop:
            tail_logs(
                settings,
                from_beginning=from_beginning,
                service=service,
                stop=stop,
                echo=lambda line: click.echo(line),
                note=_note,
                colour=sys.stdout.isatty() and not as_json,
                min_level=level.upper() if level else None,
                trace=trace,
                max_messages=max_messages,
                as_json=as_json,
            )
    except (ConfigError, LookupError) as error:
        _note(str(error))
        sys.exit(2)


@main.group()
def events() -> None:
    """Watch Kafka topics."""


@events.command("tail")
@click.option("--topic", default=None, help="Topic to follow (default: the events topic).")
@click.option("--from-beginning", is_flag=True, help="Print what the topic already holds first.")
@click.option(
    "--type",
    "event_type",
    type=click.Choice(EVENT_TYPES),
    default=None,
    help="Only domain events of this type.",
)
@MAX_MESSAGES_OPTION
@JSON_OPTION
@DATA_DIR_OPTION
def events_tail(
    topic: str | None,
    from_beginning: bool,
    event_type: str | None,
    max_messages: int | None,
    as_json: bool,
    data_dir: Path | None,
) -> None:
    """Print each message of a topic as it arrives."""
    from merchstore.tools.topic_tail import tail_topic

    settings = _tail_settings(data_dir)
    try:
        from merchstore.common.serving.signals import stop_requests

        with stop_requests() as stop:
            tail_topic(
                settings,
                topic or settings.topics.events,
                from_beginning=from_beginning,
                stop=stop,
                echo=lambda line: click.echo(line),
                note=_note,
                max_messages=max_messages,
                as_json=as_json,
                event_type=event_type,
            )
    except (ConfigError, LookupError) as error:
        _note(str(error))
        sys.exit(2)


def _console() -> Console:
    """Rich output on stdout; wide enough for the tables when it is not a terminal."""
    from rich.console import Console

    console = Console(highlight=False)
    return console if console.is_terminal else Console(highlight=False, width=120)


def _default_ledger(settings: Settings) -> Path:
    return settings.data_path("simulate-ledger.jsonl")


LEDGER_HELP = "The ledger file (default: simulate-ledger.jsonl in the data directory)."


def _with_running_broker(settings: Settings) -> Settings:
    """``settings`` with the running system's broker, once it answers (within 15 s).

    The configured broker, or that of a `merchstore up` on the data directory; raises
    ConfigError when there is none and BrokerUnavailable when it does not answer.
    """
    from merchstore.common.kafka.clients import check_broker

    found = settings.model_copy(
        update={"kafka_bootstrap_servers": broker_of_running_system(settings)}
    )
    check_broker(found, timeout_s=6.0, refused_is_final=True)
    return found


@main.command(short_help="Send simulated players and shoppers, keep a ledger.")
@click.option(
    "--rate",
    type=click.FloatRange(min=0.1, max=10_000),
    default=20.0,
    show_default=True,
    help="Actions per second, players' and shoppers' together.",
)
@click.option(
    "--duration",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to run; 0 runs until Ctrl-C.",
)
@click.option(
    "--players",
    type=click.IntRange(0, 1000),
    default=8,
    show_default=True,
    help="Simulated players (game actions on the receiver).",
)
@click.option(
    "--shoppers",
    type=click.IntRange(0, 1000),
    default=4,
    show_default=True,
    help="Simulated shoppers (register, log in, browse, order, cancel on store-api).",
)
@click.option("--ledger", type=click.Path(dir_okay=False, path_type=Path), help=LEDGER_HELP)
@click.option("--store-url", default=None, help="store-api's URL (default: that of the settings).")
@click.option(
    "--receiver-url", default=None, help="The receiver's URL (default: that of the settings)."
)
@click.option(
    "--seed", type=int, default=None, help="Seed of the random choices (repeatable runs)."
)
@DATA_DIR_OPTION
def simulate(
    rate: float,
    duration: float,
    players: int,
    shoppers: int,
    ledger: Path | None,
    store_url: str | None,
    receiver_url: str | None,
    seed: int | None,
    data_dir: Path | None,
) -> None:
    """Send players' actions and shoppers' requests to a running system at a steady rate.

    Prints a live progress line and a summary at the end (Ctrl-C ends it early, with the
    summary). Every acknowledged request goes to the ledger, which `merchstore verify`
    compares with what the system stored.
    """
    from merchstore.common.health_probe import check_health
    from merchstore.common.kafka.clients import BrokerUnavailable, topic_ids
    from merchstore.common.serving.signals import stop_requests
    from merchstore.runtime.up import service_urls
    from merchstore.tools.observe import event_log_baseline
    from merchstore.tools.simulate import SimulationPlan, run_simulation

    if players + shoppers == 0:
        raise click.UsageError("give at least one player or one shopper")
    settings = _settings(data_dir=data_dir)
    urls = service_urls(settings)
    store_url = (store_url or urls["store-api"]).rstrip("/")
    receiver_url = (receiver_url or urls["receiver"]).rstrip("/")
    for name, url, needed in (
        ("store-api", store_url, shoppers),
        ("receiver", receiver_url, players),
    ):
        host, _, port = url.split("://", 1)[-1].partition(":")
        if needed and not check_health("http", host, int(port or 80), timeout_s=5.0).ready:
            _note(f"{name} does not answer as ready at {url}; start the system with `make run`")
            sys.exit(1)
    ledger = ledger or _default_ledger(settings)
    if ledger.exists():
        _note(f"replacing the ledger of an earlier run: {ledger}")
        ledger.unlink()
    baseline = None
    incarnations: dict[str, str] = {}
    try:
        broker = _with_running_broker(settings)
    except (ConfigError, BrokerUnavailable):
        _note("no broker found: verify will take event-logger counts as of this broker alone")
    else:
        baseline = event_log_baseline(broker, urls["event-logger"])
        incarnations = topic_ids(broker, [broker.topics.event_log, broker.topics.log_channel])
    plan = SimulationPlan(
        store_url,
        receiver_url,
        rate=rate,
        duration_s=duration or None,
        players=players,
        shoppers=shoppers,
        seed=seed,
    )
    _note(f"ledger: {ledger}; Ctrl-C stops with the summary")
    with stop_requests() as stop:
        tally = run_simulation(plan, ledger, stop, _console(), baseline, incarnations)
    sys.exit(1 if tally.doubled_repeats else 0)


@main.command(short_help="Check a ledger against what the system stored.")
@click.option(
    "--ledger", type=click.Path(dir_okay=False, exists=True, path_type=Path), help=LEDGER_HELP
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Seconds to keep looking while something acknowledged is not there yet.",
)
@click.option("--store-url", default=None, help="store-api's URL (default: the ledger's).")
@click.option("--storage-url", default=None, help="storage's URL (default: that of the settings).")
@click.option(
    "--event-logger-url", default=None, help="The event-logger's URL (default: the settings')."
)
@DATA_DIR_OPTION
def verify(
    ledger: Path | None,
    settle: float,
    store_url: str | None,
    storage_url: str | None,
    event_logger_url: str | None,
    data_dir: Path | None,
) -> None:
    """Compare a ledger of `merchstore simulate` with what the system stored.

    Checks that every acknowledged game event is stored once, every acknowledged order is
    there once with its status, stock + sold = 500 per product, the event-logger counted every
    announcement once, and every answered store request's X-Request-ID is a request_id on
    log-channel. Prints one table; exits 0 only when nothing is lost or doubled.
    """
    from merchstore.runtime.up import service_urls
    from merchstore.tools.ledger import Ledger
    from merchstore.tools.verify import SystemAddress, SystemReader, checks_table
    from merchstore.tools.verify import verify as run_verify

    settings = _tail_settings(data_dir)
    path = ledger or _default_ledger(settings)
    if not path.exists():
        _note(f"no ledger at {path}; run `merchstore simulate` first, or give --ledger")
        sys.exit(2)
    read = Ledger.read(path)
    if not read.runs:
        _note(f"{path} is not a ledger of `merchstore simulate`")
        sys.exit(2)
    urls = service_urls(settings)
    address = SystemAddress(
        (store_url or read.runs[0].get("store_url") or urls["store-api"]).rstrip("/"),
        (storage_url or urls["storage"]).rstrip("/"),
        (event_logger_url or urls["event-logger"]).rstrip("/"),
    )
    if not read.ends:
        _note("the simulation did not end cleanly; checking what its ledger holds")
    if read.unreadable:
        _note(f"{read.unreadable} record(s) of {path} are not simulate's and were left out")
    reader = SystemReader(settings, address)
    try:
        checks = run_verify(read, reader, settle, note=_note)
    finally:
        reader.close()
    _console().print(checks_table(checks))
    if any(check.skipped for check in checks):
        _note(
            "the broker was restarted since this ledger was written (its topics are new): the "
            "checks on them are skipped; everything else was checked"
        )
    sys.exit(0 if all(check.holds for check in checks) else 1)
