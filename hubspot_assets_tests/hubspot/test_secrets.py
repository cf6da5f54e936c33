"""`hubspot.secrets`: every echoed form of a token is scrubbed; bad tokens are refused
without being shown; a server echoing the token leaves it in no error or log."""

import base64
import logging
from urllib.parse import quote

import pytest

from hubspot_assets.hubspot import ClientConfig
from hubspot_assets.hubspot.errors import HubSpotError
from hubspot_assets.hubspot.secrets import InvalidToken, check_token, scrub

from .conftest import TOKEN
from .stub_server import Reply

SPECIAL = "pat-na1-a+b/c=d&e-0123456789"


def echoed_forms(token: str) -> list[str]:
    """What a careless server or proxy might send back (written out independently)."""
    bearer = f"Bearer {token}".encode()
    return [token, quote(token, safe=""), base64.b64encode(token.encode()).decode(),
            base64.b64encode(bearer).decode(), base64.urlsafe_b64encode(bearer).decode(),
            base64.b64encode(bearer).decode().rstrip("=")]


def echo_body(token: str) -> dict:
    text = " | ".join(echoed_forms(token))
    return {"status": "error", "message": f"bad auth header: {text}", "category": text,
            "correlationId": text, "context": {"requiredGranularScopes": [text]}}


@pytest.mark.parametrize("token", [TOKEN, SPECIAL])
def test_scrub_removes_every_form(token):
    text = scrub("echo: " + " ; ".join(echoed_forms(token)), token)
    assert not [f for f in echoed_forms(token) if f in text]
    assert text.startswith("echo: <token>")


@pytest.mark.parametrize("token", [" tok-0123456789", "tok-0123456789\n", "tok-01234\n56789"])
def test_a_token_with_whitespace_is_refused_without_showing_it(token):
    with pytest.raises(InvalidToken) as raised:
        check_token(token, "environment variable HUBSPOT_TOKEN_X")
    assert "HUBSPOT_TOKEN_X" in str(raised.value) and "newline" in str(raised.value)
    assert token.strip()[:8] not in str(raised.value)
    with pytest.raises(ValueError) as raised:
        ClientConfig(token=token)
    assert token.strip()[:8] not in str(raised.value)


@pytest.mark.parametrize("status", [401, 403, 404, 400, 500])
def test_a_server_echoing_the_token_leaves_it_nowhere(stub, make_client, caplog, status):
    caplog.set_level(logging.DEBUG)
    forms = echoed_forms(TOKEN)
    server = stub(lambda call: Reply(status, echo_body(TOKEN),
                                     headers={"X-HubSpot-Correlation-Id": forms[3]}))
    client = make_client(server.url, max_attempts=2)
    with pytest.raises(HubSpotError) as raised:
        client.list_schemas()
    error = raised.value
    texts = [str(error), repr(error), repr(error.to_dict()), repr(vars(error)), caplog.text]
    leaks = [(i, f) for i, text in enumerate(texts) for f in forms if f in text]
    assert leaks == []
    assert "<token>" in str(error)
    assert server.calls[0].headers["Authorization"] == f"Bearer {TOKEN}"  # sent, never shown
