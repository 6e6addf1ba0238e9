"""fakesnow's server with what it leaves out, for etl's tests.

fakesnow (server mode) speaks Snowflake's connector protocol but accepts any login and
returns every result inline. This wrapper adds:
  - credential checks at login: the password in SHIM_PASSWORD, or a key-pair JWT (RS256)
    signed by the key whose public half is in SHIM_PUBLIC_KEY (issuer ACCOUNT.USER.SHA256:fp);
  - NULL timestamps marked NULL on their struct (see mask_null_timestamps);
  - result chunks: a result of more than SHIM_CHUNK_ROWS rows keeps its first rows inline and
    serves the rest as gzip'd Arrow IPC chunks at /chunk/ID, which require the chunk header
    the query response names (as Snowflake's presigned S3 URLs with SSE-C headers do);
  - seeding: `--seed FILE` runs Snowflake SQL statements (one per line) before serving, and
    `--big N` creates DB.PUBLIC.BIG with N generated rows straight in DuckDB.
Usage: python shim.py PORT [--seed FILE] [--big N]
"""

import base64
import gzip
import hashlib
import json
import os
import secrets
import sys
import time

import pyarrow as pa
import uvicorn
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import fakesnow.server as fss

CHUNK_ROWS = int(os.environ.get("SHIM_CHUNK_ROWS", "1000"))
CHUNK_KEY = secrets.token_hex(16)
chunks: dict[str, bytes] = {}


def refused() -> JSONResponse:
    return JSONResponse(
        {"data": None, "code": "390100", "message": "Incorrect username or password was specified.", "success": False}
    )


def b64url(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


def jwt_ok(token: str, account: str, user: str) -> bool:
    path = os.environ.get("SHIM_PUBLIC_KEY")
    if not path:
        return False
    with open(path, "rb") as f:
        public = serialization.load_pem_public_key(f.read())
    try:
        header, claims, sig = token.split(".")
        public.verify(b64url(sig), f"{header}.{claims}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except Exception:
        return False
    c = json.loads(b64url(claims))
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    fp = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    want = f"{account.upper()}.{user.upper()}.SHA256:{fp}"
    return c.get("iss") == want and c.get("exp", 0) > time.time()


async def login(request: Request) -> Response:
    body = json.loads(await request.body())
    data = body["data"]
    if data.get("AUTHENTICATOR") == "SNOWFLAKE_JWT":
        ok = jwt_ok(data.get("TOKEN", ""), data.get("ACCOUNT_NAME", ""), data.get("LOGIN_NAME", ""))
    else:
        ok = data.get("PASSWORD") == os.environ.get("SHIM_PASSWORD")
    if not ok:
        return refused()
    return await fss.login_request(request)


def mask_null_timestamps(table: pa.Table) -> pa.Table:
    """fakesnow leaves a NULL timestamp's struct valid with a NULL (non-nullable) epoch,
    which strict Arrow readers (arrow-rs) reject; Snowflake marks the struct itself NULL."""
    columns = []
    for col in table.columns:
        arr = col.combine_chunks()
        if pa.types.is_struct(arr.type) and arr.type.get_field_index("epoch") >= 0:
            children = [arr.field(i) for i in range(arr.type.num_fields)]
            fields = [arr.type.field(i) for i in range(arr.type.num_fields)]
            mask = children[arr.type.get_field_index("epoch")].is_null()
            children = [c.fill_null(0) for c in children]
            arr = pa.StructArray.from_arrays(children, fields=fields, mask=mask)
        columns.append(arr)
    return pa.Table.from_arrays(columns, schema=table.schema)


async def query(request: Request) -> Response:
    resp = await fss.query_request(request)
    doc = json.loads(resp.body)
    data = doc.get("data") or {}
    inline = data.get("rowsetBase64")
    if not doc.get("success") or not inline:
        return resp
    table = mask_null_timestamps(pa.ipc.open_stream(base64.b64decode(inline)).read_all())
    if table.num_rows <= CHUNK_ROWS:
        data["rowsetBase64"] = base64.b64encode(ipc(table)).decode()
        return JSONResponse(doc)
    data["rowsetBase64"] = base64.b64encode(ipc(table.slice(0, CHUNK_ROWS))).decode()
    base = f"{request.url.scheme}://{request.url.netloc}"
    listed = []
    for start in range(CHUNK_ROWS, table.num_rows, CHUNK_ROWS):
        part = table.slice(start, CHUNK_ROWS)
        cid = secrets.token_hex(8)
        chunks[cid] = gzip.compress(ipc(part), compresslevel=1)
        listed.append({"url": f"{base}/chunk/{cid}", "rowCount": part.num_rows})
    data["chunks"] = listed
    data["chunkHeaders"] = {"x-shim-chunk-key": CHUNK_KEY}
    return JSONResponse(doc)


def ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


async def chunk(request: Request) -> Response:
    if request.headers.get("x-shim-chunk-key") != CHUNK_KEY:
        return Response(status_code=403)
    body = chunks.pop(request.path_params["cid"], None)
    if body is None:
        return Response(status_code=404)
    return Response(body, media_type="application/octet-stream")


def seed(path: str | None, big: int) -> None:
    conn = fss.shared_fs.connect("DB", "PUBLIC")
    if path:
        with open(path) as f:
            for line in f:
                if line.strip():
                    conn.cursor().execute(line.strip().rstrip(";"))
    if big:
        conn.cursor().execute("CREATE TABLE BIG (ID NUMBER(18,0), NAME VARCHAR, AMOUNT NUMBER(12,2), UPDATED_AT TIMESTAMP_NTZ)")
        fss.shared_fs.duck_conn.execute(
            "INSERT INTO DB.PUBLIC.BIG SELECT i, 'name ' || i, (i % 100000) / 100 + 0.25, "
            f"TIMESTAMP '2024-01-01' + to_seconds(i) FROM range({big}) t(i)"
        )


def main() -> None:
    port = int(sys.argv[1])
    args = sys.argv[2:]
    path = args[args.index("--seed") + 1] if "--seed" in args else None
    big = int(args[args.index("--big") + 1]) if "--big" in args else 0
    seed(path, big)
    routes = [
        Route("/session/v1/login-request", login, methods=["POST"]),
        Route("/queries/v1/query-request", query, methods=["POST"]),
        Route("/chunk/{cid}", chunk, methods=["GET"]),
        *fss.routes,
    ]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
