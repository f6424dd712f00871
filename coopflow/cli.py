"""The ``coopflow`` command (Flask CLI): serve, worker, scheduler, db, imports, accounts."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from coopflow.config import INSTANCE_DIR, load_settings
from coopflow.observability import configure_logging


def _create_app() -> Flask:
    from coopflow.app import create_app

    return create_app()


def _runtime():  # type: ignore[no-untyped-def]
    return current_app.extensions["coopflow"]


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def main() -> None:
    """coopflow: the OCCE cooperatives' workflow engine."""
    configure_logging(load_settings().log_level)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    """Everything in one process: web, back-office, worker threads, scheduler."""
    from werkzeug.serving import make_server

    from coopflow.demo import DEMO_LOGINS, DEMO_MANDATAIRES

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    rt = _runtime()
    base = f"http://{host}:{port}"
    if not os.environ.get("COOPFLOW_BASE_URL"):
        # The links in emails lead to this very server unless told otherwise.
        rt.settings = rt.settings.with_overrides(base_url=base)
    rt.start_worker()
    rt.start_scheduler()
    server = make_server(host, port, app, threaded=True)
    click.echo(
        f"\ncoopflow est démarré ({'SQLite' if rt.settings.is_sqlite else 'PostgreSQL'}, "
        f"broker {'intégré' if rt.settings.embedded_broker else 'Redis'}).\n"
        f"  Portail des mandataires : {base}/connexion\n"
        f"  Back-office OCCE        : {base}/admin/\n"
        f"  Santé                   : {base}/healthz\n"
    )
    if rt.settings.base_url != base:
        click.echo(f"  (liens des emails : {rt.settings.base_url}, via COOPFLOW_BASE_URL)\n")
    click.echo("Comptes de démonstration du back-office :")
    for email, password, role in DEMO_LOGINS:
        click.echo(f"  {email:28} {password:20} {role}")
    click.echo("Mandataires de démonstration (portail, /connexion) :")
    for email, password, stage in DEMO_MANDATAIRES:
        click.echo(f"  {email:28} {password:20} {stage}")
    click.echo("\nCtrl+C pour arrêter.")

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        rt.stop()


@main.command(with_appcontext=False)
@click.option("--processes", default=2, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def worker(processes: int, threads: int) -> None:
    """Dramatiq worker processes running steps (distributed mode, Redis broker)."""
    if load_settings().broker_url.startswith("stub:"):
        raise click.ClickException(
            "COOPFLOW_BROKER_URL n'est pas défini : le broker intégré ne sert qu'à « serve »."
        )
    dramatiq = Path(sys.executable).with_name("dramatiq")
    args = [
        str(dramatiq),
        "coopflow.worker_entry",
        "--processes",
        str(processes),
        "--threads",
        str(threads),
        "--queues",
        "steps",
    ]
    os.execv(args[0], args)


@main.command(with_appcontext=False)
def scheduler() -> None:
    """The scheduler: timers, recovery of lost steps, SLA (several may run)."""
    from coopflow.runtime import build_runtime
    from workers.scheduler import Scheduler

    rt = build_runtime()
    sched = Scheduler(rt.engine, rt.settings.scheduler_interval)
    signal.signal(signal.SIGTERM, lambda *_: sched.stop())
    with contextlib.suppress(KeyboardInterrupt):
        sched.run_forever()


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade", with_appcontext=False)
def db_upgrade() -> None:
    """Apply every migration not applied yet."""
    from coopflow.db_migrations import upgrade

    url = load_settings().database_url
    upgrade(url)
    click.echo("Base de données à jour.")


@main.command("import-coops")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ad", "ad_code", required=True, help="Code de l'AD, par exemple AD06.")
@click.option("--invite", is_flag=True, help="Envoyer les invitations des nouvelles coops.")
@with_appcontext
def import_coops_command(path: Path, ad_code: str, invite: bool) -> None:
    """Import cooperatives from a CSV file (UTF-8, ';' or ',')."""
    from sqlalchemy import select

    from workflows.coop_import import import_coops_in_parts
    from workflows.engine.engine import Actor
    from workflows.models import AD

    rt = _runtime()
    with rt.db.read() as session:
        ad_id = session.scalar(select(AD.id).where(AD.code == ad_code.upper()))
    if ad_id is None:
        raise click.ClickException(f"AD inconnue : {ad_code}")
    report = import_coops_in_parts(
        rt.engine,
        ad_id,
        path.read_bytes(),
        invite=invite,
        actor=Actor.system("import en ligne de commande"),
    )
    for message in report.file_errors:
        click.echo(f"Fichier refusé : {message}", err=True)
    for error in report.errors:
        click.echo(f"Ligne {error.line} : {error.message}", err=True)
    click.echo(report.summary())
    if report.file_errors:
        sys.exit(1)


@main.command("import-price-lists")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_price_lists_command(path: Path) -> None:
    """Load the ADs' affiliation price lists from a CSV file (UTF-8, ';' or ',')."""
    from workflows.processes.affiliation.price_import import import_price_lists

    rt = _runtime()
    with rt.db.write() as session:
        report = import_price_lists(
            session, path.read_bytes(), by=f"import {path.name}", now=rt.engine.clock.now()
        )
    for message in report.file_errors:
        click.echo(f"Fichier refusé : {message}", err=True)
    for error in report.errors:
        click.echo(str(error), err=True)
    click.echo(report.summary())
    if report.file_errors or report.errors:
        sys.exit(1)


@main.command("create-ad")
@click.option("--code", required=True, help="AD06, AD2A, AD974…")
@click.option("--name", required=True, help="OCCE 06 Alpes-Maritimes")
@click.option("--email", required=True, help="L'adresse de contact de l'AD.")
@click.option(
    "--domain", "domains", multiple=True, required=True, help="Domaine académique (répétable)."
)
@click.option("--phone", default="")
@click.option("--address", default="")
@click.option("--validity-days", default=7, show_default=True, type=int)
@with_appcontext
def create_ad(
    code: str,
    name: str,
    email: str,
    domains: tuple[str, ...],
    phone: str,
    address: str,
    validity_days: int,
) -> None:
    """Create an AD, or update the AD of that code."""
    from coopflow.accounts import save_ad

    try:
        ad, created = save_ad(
            _runtime().engine,
            code=code,
            name=name,
            email=email,
            domains=list(domains),
            phone=phone,
            address=address,
            validity_days=validity_days,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"AD {'créée' if created else 'mise à jour'} : {ad.code} · {ad.name}")


@main.command("create-staff")
@click.option("--email", required=True)
@click.option("--name", "full_name", required=True)
@click.option("--role", type=click.Choice(["national", "ad", "readonly"]), default="ad")
@click.option("--ad", "ad_code", default=None, help="Code de l'AD (rôles ad et readonly).")
@click.option(
    "--officer",
    "officer_role",
    type=click.Choice(["president", "treasurer"]),
    default=None,
    help="Président ou trésorier de l'AD : lui seul examine les demandes d'avance.",
)
@click.password_option("--password", confirmation_prompt=True)
@with_appcontext
def create_staff(
    email: str,
    full_name: str,
    role: str,
    ad_code: str | None,
    officer_role: str | None,
    password: str,
) -> None:
    """Create a back-office account (``--officer``: the AD's president or treasurer)."""
    from coopflow.accounts import create_staff as create

    try:
        create(
            _runtime().engine,
            email=email,
            full_name=full_name,
            role=role,
            ad_code=ad_code,
            password=password,
            officer_role=officer_role,
        )
    except ValueError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Compte créé : {email}")


@main.command("demo-data")
@with_appcontext
def demo_data() -> None:
    """Load the demonstration data when the database is empty."""
    from coopflow.demo import load_demo
    from coopflow.demo_affiliation import write_demo_statement

    rt = _runtime()
    created = load_demo(rt)
    click.echo(
        "Données de démonstration chargées." if created else "Base déjà remplie : rien à faire."
    )
    if created:
        path = write_demo_statement(rt, INSTANCE_DIR)
        click.echo(f"Relevé bancaire de démonstration (AD06) : {path}")


@main.command("migrate-cases")
@click.option("--process", "processes", multiple=True, help="Un processus (tous par défaut).")
@click.option("--dry-run", is_flag=True, help="Compter sans rien changer.")
@with_appcontext
def migrate_cases_command(processes: tuple[str, ...], dry_run: bool) -> None:
    """Bring the cases of earlier definition versions to the current one (audited)."""
    from workflows.engine.versions import migrate_cases, pending

    rt = _runtime()
    unknown = sorted(set(processes) - set(rt.engine.definitions))
    if unknown:
        raise click.ClickException(f"Processus inconnu : {', '.join(unknown)}")
    waiting = {p: n for p, n in pending(rt.engine).items() if not processes or p in processes}
    if dry_run or not waiting:
        for process, n in sorted(waiting.items()):
            click.echo(f"{process} : {n} dossier(s) à migrer.")
        if not waiting:
            click.echo("Aucun dossier à migrer.")
        return
    report = migrate_cases(rt.engine, processes or None)
    for process, n in sorted(report.migrated.items()):
        renamed = report.renamed.get(process, 0)
        click.echo(f"{process} : {n} dossier(s) migré(s), dont {renamed} changé(s) d'état.")
