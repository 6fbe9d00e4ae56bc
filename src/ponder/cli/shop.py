"""``ponder shop``: chat with a store's shopping assistant, load a store, and confirm what it proposes;
``ponder support``: the queue of conversations handed to a person.

``ponder shop`` alone is ``ponder chat --mode shopping`` against the store of ``commerce.account`` (the demo
store is loaded the first time, if the account has none). Orders, cancellations and returns the assistant
proposes are put to you with a yes/no prompt after its answer; ``ponder shop confirm`` confirms one later,
with the token printed when it was proposed (the model never sees it). An order an outside shopping agent
prepared over UCP waits for its buyer: ``ponder shop pending --user EMAIL`` lists it, and ``ponder shop
confirm ACTION --user EMAIL`` confirms it without a token (the store holds it; the agent never had it).
``ponder shop fulfil`` is the store's side: it marks an order processed or delivered; ``ponder shop export``
writes the whole store (customers and orders too) back out as a store file. ``ponder shop settle``
runs the sweeper once: confirmations a crash left half done are finished, or their charges refunded (the
server does it itself).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import click

from ponder.commerce.actions import SETTLE_ACTION
from ponder.commerce.agent_actions import held_proposals
from ponder.commerce.formats import demo_store_path, dump_ponder, load_store
from ponder.commerce.formats.ponder import ponder_document
from ponder.commerce.formats.tau2_dump import tau2_document
from ponder.commerce.mode import open_shop
from ponder.commerce.shop import Shop
from ponder.commerce.store_export import export_store
from ponder.config import Settings
from ponder.errors import NotFoundError, UserError
from ponder.memory.embeddings import E5Embedder
from ponder.memory.owner import DEFAULT_USER, Owner
from ponder.store import JobWorker, open_database

from .chat import chat
from .context import CliContext
from .render import as_markup, err_console, write_json, write_stdout
from .sanitize import plain

__all__ = ["shop", "support"]


@contextlib.contextmanager
def _shop(obj: CliContext) -> Iterator[tuple[Shop, Settings]]:
    settings = obj.settings()
    db = open_database(settings.database)
    try:
        yield open_shop(settings, db, obj.embedder or E5Embedder()), settings
    finally:
        db.close()


def _load(shop_: Shop, account: str, path: Path) -> None:
    store = load_store(path)
    name = as_markup(store.name)  # the file's words, shown as they are: never markup
    with err_console.status(f"loading {name}: embedding {len(store.products)} products") as status:

        def progress(done: int, total: int) -> None:
            status.update(f"loading {name}: embedded {done}/{total} products")

        summary = shop_.catalog.import_store(account, store, progress=progress)
    err_console.print(
        plain(
            f"loaded {summary.store} into account '{account}': {summary.products} products "
            f"({summary.variants} items) in {summary.categories} categories, {summary.customers} "
            f"customers, {summary.orders} orders, in {summary.seconds:.1f} s"
        ),
        markup=False,
    )


@click.group(invoke_without_command=True)
@click.option("--user", default=DEFAULT_USER, show_default=True, help="Who is shopping (a customer).")
@click.option("--session", "session_id", default=None, help="Resume a shopping conversation.")
@click.option("--model", "-m", default=None, help="Model spec (default: the configured default).")
@click.pass_context
def shop(ctx: click.Context, user: str, session_id: str | None, model: str | None) -> None:
    """Shop by chatting with the store's assistant (the demo store is loaded the first time)."""
    if ctx.invoked_subcommand is not None:
        return
    obj: CliContext = ctx.obj
    with _shop(obj) as (shop_, settings):
        account = settings.commerce.account
        try:
            info = shop_.catalog.store_info(account)
        except NotFoundError:
            err_console.print(
                f"account '{account}' has no store yet: loading the demo store", style="dim", markup=False
            )
            _load(shop_, account, demo_store_path())
            info = shop_.catalog.store_info(account)
        err_console.print(plain(f"shopping at {info['name']} as {user}"), style="dim", markup=False)
    ctx.invoke(chat, mode="shopping", user=user, session_id=session_id, model=model)


@shop.command("load")
@click.argument("path", required=False, type=click.Path(exists=True, path_type=Path))
@click.option("--demo", is_flag=True, help="Load the demo store that ships with Ponder.")
@click.pass_obj
def load(obj: CliContext, path: Path | None, demo: bool) -> None:
    """Load a store (replacing the account's catalog): Ponder's store.json, or a tau2-bench retail db.json,
    whose users become the account's customers."""
    if (path is None) == (not demo):
        raise click.UsageError("Give a store file (store.json or tau2's db.json), or --demo.")
    with _shop(obj) as (shop_, settings):
        _load(shop_, settings.commerce.account, demo_store_path() if demo else path)  # type: ignore[arg-type]


@shop.command("export")
@click.option("--account", default=None, help="Whose store (default: the configured commerce.account).")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=True, path_type=Path),
    default=None,
    help="The store.json to write, or a directory to hold one (default: stdout).",
)
@click.option(
    "--products-file",
    default=None,
    help="With -o: the products go one per line in this JSONL file beside store.json (for a big catalog).",
)
@click.option(
    "--format",
    "form",
    type=click.Choice(["ponder", "tau2"]),
    default="ponder",
    help="Ponder's store file (default), or tau2-bench's retail db.json.",
)
@click.pass_obj
def export(
    obj: CliContext, account: str | None, output: Path | None, products_file: str | None, form: str
) -> None:
    """Write the account's store as Ponder's store file: catalog, pricing rules, customers (with their
    payment tokens) and orders with their history. `ponder shop load` reads it back. With --format tau2,
    as tau2-bench's retail db.json (products, users, orders)."""
    if products_file is not None and (output is None or form == "tau2"):
        raise click.UsageError(
            "--products-file needs -o, and Ponder's format: it is written beside store.json."
        )
    settings = obj.settings()
    db = open_database(settings.database)
    try:
        store = export_store(db, account or settings.commerce.account)
    finally:
        db.close()
    if form == "tau2":
        document = tau2_document(store)
        if output is None:
            write_json(document)
            return
        target = output / "db.json" if output.is_dir() else output
        try:
            target.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        except OSError as err:
            raise click.ClickException(f"cannot write {target}: {err.strerror or err}") from None
        err_console.print(plain(f"exported {store.name} as tau2's db.json to {target}"), markup=False)
        return
    if output is None:
        write_json(ponder_document(store))
        return
    try:
        written = dump_ponder(store, output, products_file=products_file)
    except ValueError as err:  # a products file that is not a plain file name
        raise click.UsageError(str(err)) from None
    except OSError as err:  # no such folder, no permission: the file system's answer, not a bug
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from None
    err_console.print(
        plain(
            f"exported {store.name}: {len(store.products)} products, {len(store.customers)} customers, "
            f"{len(store.orders)} orders to {written}"
        ),
        markup=False,
    )


@shop.command("search")
@click.argument("query", nargs=-1, required=True)
@click.option("--max-price", type=float, default=None, help="In the store's currency.")
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True)
@click.pass_obj
def search(obj: CliContext, query: tuple[str, ...], max_price: float | None, limit: int) -> None:
    """Search the catalog by meaning (in-stock items only)."""
    with _shop(obj) as (shop_, settings):
        hits = shop_.catalog.search(
            settings.commerce.account,
            " ".join(query),
            k=limit,
            max_price=None if max_price is None else round(max_price * 100),
        )
        for hit in hits:
            prices = sorted({v.price for v in hit.variants})
            write_stdout(
                f"{hit.score:.3f}  {hit.product.id:<24} {hit.product.product.name}  "
                f"{prices[0] / 100:.2f}{'+' if len(prices) > 1 else ''}  "
                f"({len(hit.variants)} item{'s' if len(hit.variants) != 1 else ''} in stock)\n"
            )


@shop.command("recommend")
@click.argument("request", nargs=-1)
@click.option("--user", default=DEFAULT_USER, show_default=True, help="For whom (a customer).")
@click.option("--max-price", type=float, default=None, help="In the store's currency.")
@click.option("--size", default=None, help="Their size, for products that come in sizes.")
@click.option("--limit", type=click.IntRange(1, 20), default=5, show_default=True)
@click.pass_obj
def recommend(
    obj: CliContext,
    request: tuple[str, ...],
    user: str,
    max_price: float | None,
    size: str | None,
    limit: int,
) -> None:
    """Products picked for a customer (what they ask for, their interests, similar shoppers), and why."""
    with _shop(obj) as (shop_, settings):
        found = shop_.recommendations.recommend(
            Owner(settings.commerce.account, user),
            " ".join(request),
            max_price=None if max_price is None else round(max_price * 100),
            size=size,
            k=limit,
        )
    for r in found:
        write_stdout(
            f"{r.recommendation.score:.3f}  {r.product.id:<24} {r.product.product.name}  "
            f"{r.recommendation.price / 100:.2f}\n"
        )
        for reason in r.recommendation.reasons:
            write_stdout(f"       - {reason}\n")


@shop.command("orders")
@click.option("--user", default=DEFAULT_USER, show_default=True)
@click.pass_obj
def orders(obj: CliContext, user: str) -> None:
    """A customer's orders, as JSON."""
    with _shop(obj) as (shop_, settings):
        found = shop_.orders.list_orders(Owner(settings.commerce.account, user))
    write_json(found)


@shop.command("fulfil")
@click.argument("order_id")
@click.option(
    "--status",
    type=click.Choice(["processed", "delivered", "received"]),
    default="delivered",
    show_default=True,
    help="Where the order is now (orders move pending -> processed -> delivered, forward only); received: "
    "the items of its waiting return or exchange are back (refunded, or exchanged, then).",
)
@click.option("--note", default="", help="Kept in the order's history.")
@click.option("--carrier", default="", help="Who carries the shipment (shown to the buyer's agent).")
@click.option("--tracking", "tracking_number", default="", help="The shipment's tracking number.")
@click.pass_obj
def fulfil(
    obj: CliContext, order_id: str, status: str, note: str, carrier: str, tracking_number: str
) -> None:
    """As the store: mark an order processed (shipped) or delivered (then it can be returned or exchanged)."""
    with _shop(obj) as (shop_, settings):
        order = shop_.orders.advance(
            settings.commerce.account,
            order_id,
            status,
            note,
            carrier=carrier,
            tracking_number=tracking_number,
        )
    write_json(order)


def _decide(obj: CliContext, action_id: str, token: str | None, user: str, *, confirm: bool) -> None:
    with _shop(obj) as (shop_, settings):
        owner = Owner(settings.commerce.account, user)
        if token is None:  # an agent's order: the store holds its token for this user
            held = held_proposals(shop_.db, owner).get(action_id)
            if held is None:
                raise UserError(
                    f"No order an agent prepared for '{user}' waits as {action_id}: give --token (printed "
                    "when it was proposed), or see `ponder shop pending --user USER`."
                )
            token = held.token
        if confirm:
            done = shop_.actions.confirm(owner, action_id, token)
        else:
            done = shop_.actions.decline(owner, action_id, token)
    write_json(done.to_dict())


@shop.command("pending")
@click.option("--user", default=DEFAULT_USER, show_default=True)
@click.pass_obj
def pending(obj: CliContext, user: str) -> None:
    """List the user's actions waiting for a decision (orders an agent prepared say which agent)."""
    with _shop(obj) as (shop_, settings):
        owner = Owner(settings.commerce.account, user)
        held = held_proposals(shop_.db, owner)
        found = shop_.actions.list_actions(owner)
    rows = [a.to_dict() | ({"origin": held[a.id].origin()} if a.id in held else {}) for a in found]
    write_json(rows)


@shop.command("confirm")
@click.argument("action_id")
@click.option(
    "--token", default=None, help="The token printed when it was proposed (not needed for an agent's order)."
)
@click.option("--user", default=DEFAULT_USER, show_default=True)
@click.pass_obj
def confirm(obj: CliContext, action_id: str, token: str | None, user: str) -> None:
    """Confirm a proposed order, cancellation or return: it is carried out now, once."""
    _decide(obj, action_id, token, user, confirm=True)


@shop.command("decline")
@click.argument("action_id")
@click.option("--token", default=None, help="As for confirm.")
@click.option("--user", default=DEFAULT_USER, show_default=True)
@click.pass_obj
def decline(obj: CliContext, action_id: str, token: str | None, user: str) -> None:
    """Decline a proposed action: nothing is done, and its token no longer works."""
    _decide(obj, action_id, token, user, confirm=False)


@shop.command("settle")
@click.pass_obj
def settle(obj: CliContext) -> None:
    """Finish confirmations a crash left half done (their orders written, or charges refunded): run the
    sweeper's due jobs once. A running ``ponder serve`` does this by itself."""
    with _shop(obj) as (shop_, _):
        ran = JobWorker(shop_.actions.jobs, {SETTLE_ACTION: shop_.actions.settle_job}).run_due()
    err_console.print(f"{ran} job(s) run", highlight=False)


@click.group()
def support() -> None:
    """Conversations handed to a person by the shopping assistant."""


@support.command("list")
@click.option("--all", "everything", is_flag=True, help="Closed tickets too.")
@click.pass_obj
def support_list(obj: CliContext, everything: bool) -> None:
    """Open support tickets, oldest first, with the summary of each conversation."""
    with _shop(obj) as (shop_, settings):
        tickets = shop_.support.list_tickets(settings.commerce.account, status=None if everything else "open")
    if not tickets:
        err_console.print("no open tickets", style="dim")
    for t in tickets:
        session = f" · session {t.session_id}" if t.session_id else ""
        write_stdout(f"#{t.id} [{t.status}] {t.user}{session}: {t.reason}\n    {t.summary}\n")


@support.command("reply")
@click.argument("ticket_id", type=int)
@click.argument("text")
@click.option("--close", is_flag=True, help="Close the ticket too: the assistant answers the thread again.")
@click.pass_obj
def support_reply(obj: CliContext, ticket_id: int, text: str, close: bool) -> None:
    """Answer a ticket that came from a messaging thread: the text goes into that thread (sent by the
    server's channel workers, retried until the platform takes it)."""
    from ponder.channels.handoff import reply_to_ticket

    with _shop(obj) as (shop_, settings):
        done = reply_to_ticket(
            shop_.db, shop_.support, settings.commerce.account, ticket_id, text, close=close
        )
    closed = "; ticket closed" if done.closed else ""
    err_console.print(
        f"queued for {done.channel} thread {done.thread} ({done.parts} message(s)){closed}", style="dim"
    )


@support.command("close")
@click.argument("ticket_id", type=int)
@click.pass_obj
def support_close(obj: CliContext, ticket_id: int) -> None:
    """Close a ticket once a person has dealt with it."""
    with _shop(obj) as (shop_, settings):
        ticket = shop_.support.close(settings.commerce.account, ticket_id)
    err_console.print(f"closed #{ticket.id}", style="dim")
