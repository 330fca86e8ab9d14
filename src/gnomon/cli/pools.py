"""``gnomon pools ...``: set, list and delete pools, the limits on task slots in use at once."""

from __future__ import annotations

from typing import Any

import click

from gnomon.cli import database, output
from gnomon.cli.common import NEGATIVE_ARGUMENTS, CliError, load_settings, output_option
from gnomon.store import pools as store_pools


@click.group()
def pools() -> None:
    """Set, list and delete pools (how many task slots may be in use at once)."""


@pools.command("set", context_settings=NEGATIVE_ARGUMENTS)
@click.argument("name")
@click.argument("slots", type=int)
@click.option("--description", default=None, help="What the pool is for [default: unchanged].")
def set_pool(name: str, slots: int, description: str | None) -> None:
    """Create pool NAME with SLOTS slots (-1: unlimited), or change an existing pool."""
    with database.transaction(load_settings()) as session:
        if description is None and (existing := store_pools.get(session, name)) is not None:
            description = existing.description
        store_pools.upsert(session, name, slots, description or None)
    click.echo(f"Pool {name!r} set to {_slots_text(slots)} slots.")


@pools.command("list")
@output_option()
def list_pools(output_format: str) -> None:
    """List the pools with their slots, the slots in use (queued and running tasks) and open."""
    with database.transaction(load_settings(), read_only=True) as session:
        usages = store_pools.list_with_usage(session)
    if output_format == "json":
        output.echo_json([_summary(usage) for usage in usages])
        return
    output.echo_table(
        ["pool", "slots", "used", "open", "description"],
        (
            (
                u.pool.name,
                _slots_text(u.pool.slots),
                u.used_slots,
                _slots_text(u.open_slots),
                u.pool.description,
            )
            for u in usages
        ),
    )


@pools.command("delete")
@click.argument("name")
def delete_pool(name: str) -> None:
    """Delete pool NAME (default_pool cannot be deleted)."""
    with database.transaction(load_settings()) as session:
        if not store_pools.delete(session, name):
            raise CliError(f"pool {name!r} does not exist (see `gnomon pools list`)")
    click.echo(f"Deleted pool {name!r}.")


def _summary(usage: store_pools.PoolUsage) -> dict[str, Any]:
    return {
        "pool": usage.pool.name,
        "slots": usage.pool.slots,
        "used_slots": usage.used_slots,
        "open_slots": usage.open_slots,
        "description": usage.pool.description,
    }


def _slots_text(slots: int | None) -> str:
    return "unlimited" if slots in (None, store_pools.UNLIMITED) else str(slots)
