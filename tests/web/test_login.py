"""Local sign-in through the forms: success, failure, rate limit, sign-out, switched-off users."""

from __future__ import annotations

import pytest

from pulsecrm.auth import users
from tests.conftest import PASSWORD, Api, Web, browser_client, csrf_of, make_user, sign_in


async def test_sign_in_then_out(inline_api: Api) -> None:
    await make_user(inline_api)
    async with browser_client(inline_api) as client:
        assert (await client.get("/")).status_code == 302
        response = await sign_in(client, "Marketer@Example.com ", PASSWORD)
        assert response.status_code == 303 and response.headers["location"] == "/"
        home = await client.get("/")
        assert home.status_code == 200 and "marketer@example.com" in home.text
        # Signed in, the login page sends you on.
        assert (await client.get("/login")).status_code == 302
        out = await client.post("/logout", data={"csrf_token": csrf_of(home.text)})
        assert out.status_code == 303 and out.headers["location"] == "/login"
        assert (await client.get("/")).status_code == 302


async def test_a_wrong_password_is_refused_in_plain_words(inline_api: Api) -> None:
    await make_user(inline_api)
    async with browser_client(inline_api) as client:
        response = await sign_in(client, "marketer@example.com", "wrong password")
        assert response.status_code == 401
        assert "don&#39;t match an active account" in response.text
        unknown = await sign_in(client, "nobody@example.com", PASSWORD)
        assert unknown.status_code == 401  # the same answer: no telling which addresses exist
        assert (await client.get("/")).status_code == 302


async def test_failed_sign_ins_are_rate_limited(database_url: str) -> None:
    from tests.conftest import running_api

    async with running_api(database_url, login_attempts_per_minute=3) as api:
        await make_user(api)
        async with browser_client(api) as client:
            for _ in range(3):
                assert (await sign_in(client, "marketer@example.com", "nope")).status_code == 401
            limited = await sign_in(client, "marketer@example.com", PASSWORD)
            assert limited.status_code == 429 and "Too many failed attempts" in limited.text


@pytest.mark.redis
async def test_the_rate_limit_is_shared_through_redis(database_url: str, redis_prefix: str) -> None:
    from tests.conftest import running_api

    async with running_api(database_url, redis_prefix, login_attempts_per_minute=2) as first:
        await make_user(first)
        async with (
            running_api(database_url, redis_prefix, login_attempts_per_minute=2) as second,
            browser_client(first) as a,
            browser_client(second) as b,
        ):
            assert (await sign_in(a, "marketer@example.com", "nope")).status_code == 401
            assert (await sign_in(b, "marketer@example.com", "nope")).status_code == 401
            assert (await sign_in(a, "marketer@example.com", PASSWORD)).status_code == 429


async def test_a_switched_off_user_is_signed_out(web: Web) -> None:
    other = await make_user(web.api, "second@example.com", "Sam Second")
    async with browser_client(web.api) as client:
        assert (await sign_in(client, "second@example.com", PASSWORD)).status_code == 303
        switched = await web.form(f"/settings/users/{other}/deactivate")
        assert switched.status_code == 303
        assert (await client.get("/")).status_code == 302
        assert (await sign_in(client, "second@example.com", PASSWORD)).status_code == 401
    # Nobody can switch themselves off.
    assert (await web.form(f"/settings/users/{web.user_id}/deactivate")).status_code == 400


async def test_passwords_are_stored_as_argon2_hashes(inline_api: Api) -> None:
    await make_user(inline_api)
    async with inline_api.services.db.sessions() as session:
        (user,) = await users.list_users(session)
    assert user.password_hash is not None and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash
