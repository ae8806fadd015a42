from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator

import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.unit.gateway.tokens import AUDIENCE, SECRET, user_token
from workers.gateway.auth import AuthError, TokenVerifier, bearer_token

USER = "3a9f1b62-5c1e-4c1e-8a55-0b7e3c7c0001"


def hs256() -> TokenVerifier:
    return TokenVerifier(audience=AUDIENCE, secret=SECRET)


async def refusal(verifier: TokenVerifier, token: str) -> AuthError:
    with pytest.raises(AuthError) as caught:
        await verifier.verify(token)
    return caught.value


async def test_a_good_token_gives_the_user_and_expiry() -> None:
    claims = await hs256().verify(user_token(USER, ttl_s=60))
    assert claims.user_id == USER
    assert time.time() < claims.expires_at <= time.time() + 61


async def test_a_forged_signature_is_refused() -> None:
    error = await refusal(hs256(), user_token(USER, secret="another-secret-of-32-bytes-or-more!!"))
    assert (error.status, error.reason) == (401, "signature")


async def test_an_expired_token_is_refused() -> None:
    error = await refusal(hs256(), user_token(USER, ttl_s=-5))
    assert (error.status, error.reason, error.message) == (401, "expired", "token expired")


async def test_another_audience_is_refused() -> None:
    error = await refusal(hs256(), user_token(USER, audience="anon"))
    assert error.reason == "audience"
    assert "'authenticated'" in error.message


async def test_alg_none_is_refused() -> None:
    unsigned = jwt.encode(
        {"sub": USER, "aud": AUDIENCE, "exp": int(time.time()) + 60}, None, algorithm="none"
    )
    error = await refusal(hs256(), unsigned)
    assert error.reason == "algorithm"


async def test_a_token_without_exp_or_with_a_non_uuid_sub_is_refused() -> None:
    no_exp = jwt.encode({"sub": USER, "aud": AUDIENCE}, SECRET, algorithm="HS256")
    assert (await refusal(hs256(), no_exp)).reason == "claims"
    assert (await refusal(hs256(), user_token("service"))).reason == "claims"


async def test_garbage_is_refused_in_one_line() -> None:
    error = await refusal(hs256(), "not.a.jwt")
    assert error.reason == "malformed"
    assert "\n" not in error.message


def test_the_token_comes_from_the_header_or_the_query() -> None:
    assert bearer_token("Bearer abc", None) == "abc"
    assert bearer_token(None, "q") == "q"
    with pytest.raises(AuthError, match="no token"):
        bearer_token(None, None)
    with pytest.raises(AuthError, match="Bearer"):
        bearer_token("Basic abc", None)


@pytest.fixture
async def jwks_server() -> AsyncIterator[tuple[str, rsa.RSAPrivateKey]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public |= {"kid": "k1", "use": "sig", "alg": "RS256"}

    async def keys(_request: web.Request) -> web.Response:
        return web.json_response({"keys": [public]})

    app = web.Application()
    app.router.add_get("/jwks.json", keys)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = next(a[1] for a in runner.addresses if isinstance(a, tuple))
    try:
        yield f"http://127.0.0.1:{port}/jwks.json", key
    finally:
        await runner.cleanup()


async def test_a_token_signed_by_a_jwks_key_is_accepted_and_others_are_not(
    jwks_server: tuple[str, rsa.RSAPrivateKey],
) -> None:
    url, key = jwks_server
    verifier = TokenVerifier(audience=AUDIENCE, jwks_url=url)
    claims = {"sub": USER, "aud": AUDIENCE, "exp": int(time.time()) + 60}
    good = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})
    assert (await verifier.verify(good)).user_id == USER

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "k1"})
    assert (await refusal(verifier, forged)).reason == "signature"
    unknown_kid = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k9"})
    assert (await refusal(verifier, unknown_kid)).reason == "key"
    # Without a secret configured, an HS256 token is not accepted at all.
    assert (await refusal(verifier, user_token(USER))).reason == "algorithm"
    await asyncio.sleep(0)


def test_a_verifier_needs_a_key_source() -> None:
    with pytest.raises(ValueError, match="secret or a JWKS"):
        TokenVerifier(audience=AUDIENCE)
    assert uuid.UUID(USER)
