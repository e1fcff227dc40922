"""The official suite's ``sdk-test-procedure`` scenarios: procedures returning values, failing,
committing and rolling back transactions, making HTTP requests and being scheduled.

``test_http_ok`` passes the procedure the URL of the server hosting the module, as the official
client passes its server's: the request goes to the local server on 127.0.0.1, never further.
``test_http_err`` requests ``http://foo.invalid/``, a name reserved never to resolve, so it
fails before anything leaves the machine.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sdk_suite.harness import Driver, HostedModule, Reporter, Scenario, scenario_of

SUBSCRIBE_ALL = [
    "SELECT * FROM my_table;",
    "SELECT * FROM proc_inserts_into;",
    "SELECT * FROM pk_uuid;",
]


@pytest.fixture
def s(hosted_module: Any, driver: Driver) -> Iterator[Scenario]:
    module: HostedModule = hosted_module("sdk_test_procedure")
    yield from scenario_of(module, driver)


def _ok(res: Any, what: str) -> Any:
    """The value of a procedure call's outcome; an error fails with ``what``."""
    if isinstance(res, BaseException):
        raise AssertionError(f"{what}: {res!r}") from res
    return res


def _assert_all_tables_empty(ctx: Any) -> None:
    count = ctx.db.my_table.count()
    assert count == 0, f"Expected table MyTable to be empty, but found {count} rows resident"


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_return_values(s: Scenario) -> None:
    b = s.module.bindings
    counter = s.counter()

    def on_connect(ctx: Any) -> None:
        primitive = counter.add_test("return_primitive")
        struct = counter.add_test("return_struct")
        enum_a = counter.add_test("return_enum_a")
        enum_b = counter.add_test("return_enum_b")

        def primitive_checks(res: Any) -> None:
            total = _ok(res, "return_primtive failed unexpectedly")
            assert total == 3, f"Expected return value from return_primitive of 3 but got {total}"

        def struct_checks(res: Any) -> None:
            strukt = _ok(res, "return_struct failed unexpectedly")
            assert strukt.a == 1234
            assert strukt.b == "foo"

        def enum_a_checks(res: Any) -> None:
            value = _ok(res, "return_enum_a failed unexpectedly")
            assert value == b.ReturnEnumA(1234), value

        def enum_b_checks(res: Any) -> None:
            value = _ok(res, "return_enum_b failed unexpectedly")
            assert isinstance(value, b.ReturnEnumB), (
                f"Unexpected variant for returned enum {value!r}"
            )
            assert value == b.ReturnEnumB("foo"), value

        ctx.procedures.return_primitive(1, 2).then(
            lambda _ctx, res: primitive.check(lambda: primitive_checks(res))
        )
        ctx.procedures.return_struct(1234, "foo").then(
            lambda _ctx, res: struct.check(lambda: struct_checks(res))
        )
        ctx.procedures.return_enum_a(1234).then(
            lambda _ctx, res: enum_a.check(lambda: enum_a_checks(res))
        )
        ctx.procedures.return_enum_b("foo").then(
            lambda _ctx, res: enum_b.check(lambda: enum_b_checks(res))
        )

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_observe_panic(s: Scenario) -> None:
    counter = s.counter()

    def on_connect(ctx: Any) -> None:
        will_panic: Reporter = counter.add_test("will_panic")

        def done(_ctx: Any, res: Any) -> None:
            will_panic(
                None
                if isinstance(res, BaseException)
                else f"Expected failure but got Ok... huh? {res!r}"
            )

        ctx.procedures.will_panic().then(done)

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


@pytest.mark.parametrize("driver", ["threaded", "asyncio"])
def test_with_tx_commit(s: Scenario) -> None:
    b = s.module.bindings
    expected = b.ReturnStruct(a=42, b="magic")
    counter = s.counter()
    sub_applied_nothing = counter.add_test("on_subscription_applied_nothing")
    inspect = counter.add_test("insert_with_tx_commit_values")
    callback = counter.add_test("insert_with_tx_commit_callback")

    def on_connect(ctx: Any) -> None:
        def on_insert(_ctx: Any, row: Any) -> None:
            assert row.field == expected, row
            callback()

        ctx.db.my_table.on_insert(on_insert)

        def applied(ctx: Any) -> None:
            sub_applied_nothing.check(lambda: _assert_all_tables_empty(ctx))

            def done(ctx: Any, res: Any) -> None:
                assert not isinstance(res, BaseException), f"Expected Ok result but got {res!r}"
                row = next(iter(ctx.db.my_table.iter()))
                assert row.field == expected, row
                inspect()

            ctx.procedures.insert_with_tx_commit().then(done)

        s.subscribe_these_then(ctx, SUBSCRIBE_ALL, applied)

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def test_with_tx_rollback(s: Scenario) -> None:
    counter = s.counter()
    sub_applied_nothing = counter.add_test("on_subscription_applied_nothing")
    inspect = counter.add_test("insert_with_tx_rollback_values")

    def on_connect(ctx: Any) -> None:
        def on_insert(_ctx: Any, row: Any) -> None:
            raise AssertionError(f"should not have inserted a row: {row!r}")

        ctx.db.my_table.on_insert(on_insert)

        def applied(ctx: Any) -> None:
            sub_applied_nothing.check(lambda: _assert_all_tables_empty(ctx))

            def done(ctx: Any, res: Any) -> None:
                assert not isinstance(res, BaseException), f"Expected Ok result but got {res!r}"
                assert next(iter(ctx.db.my_table.iter()), None) is None
                inspect()

            ctx.procedures.insert_with_tx_rollback().then(done)

        s.subscribe_these_then(ctx, SUBSCRIBE_ALL, applied)

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def test_http_ok(s: Scenario) -> None:
    """``read_my_schema`` fetches the module's own ``schema?version=9`` over HTTP and returns
    it; the client finds the procedure itself among the schema's exports."""
    counter = s.counter()

    def on_connect(ctx: Any) -> None:
        result = counter.add_test("invoke_http")

        def checks(res: Any) -> None:
            text = _ok(res, "Expected Ok result")
            module_def = json.loads(text)
            names = [
                export["Procedure"]["name"]
                for export in module_def["misc_exports"]
                if "Procedure" in export
            ]
            assert "read_my_schema" in names, names

        ctx.procedures.read_my_schema(s.module.url).then(
            lambda _ctx, res: result.check(lambda: checks(res))
        )

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def test_http_err(s: Scenario) -> None:
    """``invalid_request`` requests a reserved, never-resolving URL and returns the error's
    text, which names the URL."""
    counter = s.counter()

    def on_connect(ctx: Any) -> None:
        result = counter.add_test("invoke_http")

        def checks(res: Any) -> None:
            error = _ok(res, "Expected Ok result")
            assert "error" in error, error
            assert "http://foo.invalid/" in error, error

        ctx.procedures.invalid_request().then(lambda _ctx, res: result.check(lambda: checks(res)))

    s.connect_then(counter, on_connect)
    counter.wait_for_all()


def test_schedule_procedure(s: Scenario) -> None:
    """``schedule_proc`` schedules ``scheduled_proc`` for 1 s later; the row it inserts says it
    ran between 1 and 2 seconds after the reducer."""
    counter = s.counter()
    sub_applied_nothing = counter.add_test("on_subscription_applied_nothing")
    callback = counter.add_test("insert_with_tx_commit_callback")

    def on_connect(ctx: Any) -> None:
        def on_insert(_ctx: Any, row: Any) -> None:
            assert row.x == 42
            assert row.y == 24
            elapsed = (
                row.procedure_ts.micros_since_unix_epoch - row.reducer_ts.micros_since_unix_epoch
            )
            assert elapsed >= 0, "procedure ts > reducer ts"
            assert elapsed >= 1_000_000, elapsed
            assert elapsed <= 2_000_000, elapsed
            # The schedule repeats every second; like the official client's, a second row
            # before the scenario ends would fail it (reported twice).
            callback()

        ctx.db.proc_inserts_into.on_insert(on_insert)

        def applied(ctx: Any) -> None:
            sub_applied_nothing.check(lambda: _assert_all_tables_empty(ctx))

            def done(_ctx: Any, outcome: Any) -> None:
                if isinstance(outcome, BaseException):
                    s.fail(f"`schedule_proc` reducer failed: {outcome!r}")

            ctx.reducers.schedule_proc().then(done)

        s.subscribe_these_then(ctx, SUBSCRIBE_ALL, applied)

    s.connect_then(counter, on_connect)
    counter.wait_for_all()
