"""bqemulator with what it leaves out, for etl's tests.

bqemulator (PyPI) serves BigQuery's REST API over DuckDB but checks no credentials and needs
DuckDB's spatial extension, which it downloads at start. This wrapper:
  - loads the spatial extension from the PyPI package duckdb-extension-spatial (no download);
  - serves an OAuth token endpoint at /token that accepts only a JWT-bearer grant signed by
    the key whose public half is in SHIM_PUBLIC_KEY, checked with google-auth (issuer SHIM_CLIENT_EMAIL, the BigQuery
    scope, audience this endpoint), and answers with an access token;
  - refuses /bigquery/ requests without that token (HTTP 401, as Google does).
Usage: python shim.py PORT
"""

import os
import secrets
import sys
import urllib.parse

import duckdb_extension_spatial
import duckdb
import google.auth.jwt
from fastapi import Request
from fastapi.responses import JSONResponse

import bqemulator.server as server
import bqemulator.storage.engine as engine

EXT = os.path.join(
    os.path.dirname(duckdb_extension_spatial.__file__),
    "extensions",
    f"v{duckdb.__version__}",
    "spatial.duckdb_extension",
)
ACCESS_TOKEN = os.environ.get("SHIM_ACCESS_TOKEN") or secrets.token_urlsafe(24)


def load_spatial(self) -> None:
    self._connection.execute(f"LOAD '{EXT}'")


def grant_ok(assertion: str, audience: str) -> bool:
    """The grant's JWT, checked by google-auth as Google's token endpoint would: RS256 signature
    by the trusted key, audience this endpoint, not expired; then issuer and scope."""
    with open(os.environ["SHIM_PUBLIC_KEY"], "rb") as f:
        public = f.read()
    try:
        claims = google.auth.jwt.decode(assertion, certs=public, audience=audience)
    except Exception:
        return False
    return claims.get("iss") == os.environ.get("SHIM_CLIENT_EMAIL") and "bigquery" in claims.get("scope", "")


def wrap(create_app):
    def create(context):
        app = create_app(context)

        @app.post("/token")
        async def token(request: Request):
            form = {k: v[0] for k, v in urllib.parse.parse_qs((await request.body()).decode()).items()}
            audience = f"{request.url.scheme}://{request.url.netloc}/token"
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" or not grant_ok(
                form.get("assertion", ""), audience
            ):
                return JSONResponse({"error": "invalid_grant", "error_description": "Invalid JWT Signature."}, 400)
            return {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 3600}

        @app.middleware("http")
        async def require_token(request: Request, call_next):
            if request.url.path.startswith("/bigquery/") and request.headers.get(
                "authorization"
            ) != f"Bearer {ACCESS_TOKEN}":
                return JSONResponse(
                    {"error": {"code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"}},
                    401,
                )
            return await call_next(request)

        return app

    return create


def main() -> None:
    port = sys.argv[1]
    engine.DuckDBEngine._load_spatial = load_spatial
    server.create_app = wrap(server.create_app)
    from bqemulator.cli import main as cli

    sys.argv = ["bqemulator", "start", "--rest-port", port, "--grpc-port", "0", "--project", "p1", "--log-level", "warning"]
    cli()


if __name__ == "__main__":
    main()
