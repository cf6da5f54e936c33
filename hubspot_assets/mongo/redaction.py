"""Keep credentials in MongoDB URIs out of logs, errors and metadata."""

from __future__ import annotations

import re

# scheme://user:password@hosts -> scheme://***@hosts (any scheme, so a
# redis:// or postgres:// URI inside an error message is covered too).
# Greedy up to the authority's last '@': an unescaped '@' in a password (a common
# mistake) must not leave the rest of the password in view.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/\s?#]*)@")
# Query options that carry secrets.
_SECRET_OPTION = re.compile(
    r"(?i)(?P<key>[?&;](?:password|tlsCertificateKeyFilePassword|sslPEMKeyPassword|"
    r"authMechanismProperties|[a-z]*token[a-z]*|[a-z]*secret[a-z]*)=)(?P<value>[^&;#\s]*)"
)
REDACTED = "***"


def redact_uri(uri: str) -> str:
    """`uri` with any `user:pass@` and secret query options replaced by `***`."""
    text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{REDACTED}@", str(uri))
    return _SECRET_OPTION.sub(lambda m: f"{m.group('key')}{REDACTED}", text)


def redact_text(text: object, *secrets: str) -> str:
    """Redact URIs in free text, plus any literal `secrets` (e.g. a password)."""
    out = redact_uri(str(text))
    for secret in secrets:
        if secret:
            out = out.replace(secret, REDACTED)
    return out


def uri_secrets(uri: str) -> tuple[str, ...]:
    """The userinfo of `uri` (raw and percent-decoded), to scrub from free text."""
    from urllib.parse import unquote

    match = _USERINFO.search(str(uri))
    if not match or not match.group("userinfo"):
        return ()
    userinfo = match.group("userinfo")
    parts = {userinfo, unquote(userinfo)}
    if ":" in userinfo:
        password = userinfo.split(":", 1)[1]
        parts |= {password, unquote(password)}
    # Very short fragments would redact unrelated text; a password that short
    # is also not worth hiding from the operator's own logs.
    return tuple(sorted((p for p in parts if len(p) >= 4), key=len, reverse=True))
