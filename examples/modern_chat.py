"""The quickstart chat client written with the modern API, after the official Rust chat client.

Same module, same conversation as ``client/main.py`` (the 0.7-style client), but with the 2.x
client API: a connection builder, a credentials file for the token, typed table callbacks
(``on_insert`` / ``on_update``) and reducer calls you ``await``::

    python examples/modern_chat.py                 # first user
    python examples/modern_chat.py --client 2      # a second user, with its own saved identity
    python examples/modern_chat.py --uri https://maincloud.spacetimedb.com --database my-chat

Type a message and press Enter to send it, ``/name NAME`` to set your name; an empty line quits.
The token is kept in ``~/.spacetimedb_client_credentials/quickstart-chat[-N]`` (the Rust SDK's
format and place), so you come back as the same user.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import threading
from pathlib import Path

# The bindings live in client/module_bindings (generated from server/); make them importable.
CLIENT_DIR = Path(__file__).resolve().parent.parent / "client"
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

from module_bindings import DbConnection, Message, User  # noqa: E402

from spacetimedb_sdk import Identity  # noqa: E402
from spacetimedb_sdk.client import (  # noqa: E402
    ConnectError,
    DbConnectionBuilder,
    ErrorContext,
    EventContext,
    ReducerError,
    SubscriptionEventContext,
    SubscriptionFailedError,
    SubscriptionHandle,
    credentials,
)
from spacetimedb_sdk.client.events import SubscribeApplied  # noqa: E402

DEFAULT_URI = "http://localhost:3000"
DEFAULT_DATABASE = "chat"


# ------------------------------------------------------------------------------ callbacks
def user_name_or_identity(user: User) -> str:
    """The user's name, or the first 8 hex digits of their identity."""
    return user.name or user.identity.to_hex()[:8]


def on_user_inserted(ctx: EventContext, user: User) -> None:
    """A user appeared: announce them if they are online."""
    if user.online:
        print(f"User {user_name_or_identity(user)} connected.")


def on_user_updated(ctx: EventContext, old: User, new: User) -> None:
    """A user changed: renamed, came online or went offline."""
    if old.name != new.name:
        print(f"User {user_name_or_identity(old)} renamed to {user_name_or_identity(new)}.")
    if old.online and not new.online:
        print(f"User {user_name_or_identity(new)} disconnected.")
    if new.online and not old.online:
        print(f"User {user_name_or_identity(new)} connected.")


def print_message(ctx: EventContext | SubscriptionEventContext, message: Message) -> None:
    """``<sender>: <text>``."""
    sender = ctx.db.user.identity.find(message.sender)
    name = user_name_or_identity(sender) if sender is not None else "unknown"
    print(f"{name}: {message.text}")


def on_message_inserted(ctx: EventContext, message: Message) -> None:
    """A new message: print it (the backlog is printed in order once subscribed)."""
    if not isinstance(ctx.event, SubscribeApplied):
        print_message(ctx, message)


def on_sub_applied(ctx: SubscriptionEventContext) -> None:
    """The subscription is in: print the backlog, oldest first."""
    for message in sorted(ctx.db.message.iter(), key=lambda m: m.sent):
        print_message(ctx, message)
    print("Fully connected and all subscriptions applied.")
    print("Use /name to set your name, or type a message!")


def on_sub_error(ctx: ErrorContext, error: Exception) -> None:
    """The server rejected the subscription."""
    print(f"Subscription failed: {error}", file=sys.stderr)


# ------------------------------------------------------------------------------ connection
def connect_to_db(
    uri: str, database: str, creds: credentials.File
) -> DbConnectionBuilder[DbConnection]:
    """A builder configured like the Rust client's ``connect_to_db`` (built by the caller)."""

    def on_connected(conn: DbConnection, identity: Identity, token: str) -> None:
        creds.save(token)

    def on_disconnected(ctx: ErrorContext, error: Exception | None) -> None:
        if error is not None:
            print(f"Disconnected: {error}", file=sys.stderr)

    return (
        DbConnection.builder()
        .on_connect(on_connected)
        .on_disconnect(on_disconnected)
        .with_token(creds.load())
        .with_uri(uri)
        .with_database_name(database)
    )


def register_callbacks(conn: DbConnection) -> None:
    """Table callbacks, as in the Rust client's ``register_callbacks``."""
    conn.db.user.on_insert(on_user_inserted)
    conn.db.user.on_update(on_user_updated)
    conn.db.message.on_insert(on_message_inserted)


def subscribe_to_tables(conn: DbConnection) -> SubscriptionHandle:
    """Everything the chat shows."""
    return (
        conn.subscription_builder()
        .on_applied(on_sub_applied)
        .on_error(on_sub_error)
        .subscribe(["SELECT * FROM user", "SELECT * FROM message"])
    )


# ------------------------------------------------------------------------------ input
def start_reading_lines(loop: asyncio.AbstractEventLoop) -> asyncio.Queue[str | None]:
    """Lines typed on stdin, delivered into the loop; ``None`` at end of input.

    The reader stops after an empty line, so nothing is left reading stdin at exit.
    """
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for raw in sys.stdin:
            line = raw.rstrip("\n")
            loop.call_soon_threadsafe(lines.put_nowait, line)
            if not line:
                return
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="stdin", daemon=True).start()
    return lines


async def user_input_loop(conn: DbConnection, lines: asyncio.Queue[str | None]) -> None:
    """``/name NAME`` sets the name, anything else is a message; an empty line ends."""
    while True:
        line = await lines.get()
        if not line or conn.is_closed:
            return
        if line.startswith("/name "):
            try:
                await conn.reducers.set_name(line[len("/name ") :])
            except ReducerError as error:
                print(f"Failed to set name: {error}")
        else:
            try:
                await conn.reducers.send_message(line)
            except ReducerError as error:
                print(f"Failed to send message: {error}")


async def main(argv: list[str] | None = None) -> int:
    """Run the chat until an empty line (exit 0) or a lost connection (exit 1)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uri", default=DEFAULT_URI, help=f"server (default {DEFAULT_URI})")
    parser.add_argument("--database", default=DEFAULT_DATABASE, help="database name")
    parser.add_argument("--client", help="run as another user (keeps a separate token)")
    args = parser.parse_args(argv)
    key = "quickstart-chat" + (f"-{args.client}" if args.client else "")
    creds = credentials.File(key)

    try:
        conn = await connect_to_db(args.uri, args.database, creds).build_async()
    except ConnectError as error:
        print(f"Connection error: {error}", file=sys.stderr)
        return 1
    register_callbacks(conn)
    try:
        # Wait for the backlog before taking input, so nothing typed early is printed twice.
        await subscribe_to_tables(conn).applied
    except SubscriptionFailedError:
        conn.disconnect()
        return 1
    lines = start_reading_lines(asyncio.get_running_loop())
    input_task = asyncio.ensure_future(user_input_loop(conn, lines))
    closed = asyncio.ensure_future(conn.run_async())
    await asyncio.wait({input_task, closed}, return_when=asyncio.FIRST_COMPLETED)
    lost = closed.done()
    input_task.cancel()
    conn.disconnect()
    await closed
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
