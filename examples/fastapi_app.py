"""FastAPI with zjwt as an async dependency, CORSMiddleware for browsers, and an Authorize button in /docs.

Run:  ZJWT_ISSUER=https://issuer.example ZJWT_AUDIENCE=orders-api uvicorn --app-dir examples fastapi_app:app

(pip install fastapi uvicorn, and zjwt.)
"""

import os
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

import zjwt

verifier = zjwt.Verifier(os.environ["ZJWT_ISSUER"], audience=os.environ.get("ZJWT_AUDIENCE"))

app = FastAPI()
# Outermost: it answers CORS preflights itself (they never reach a route), and adds CORS headers to every
# answer, zjwt's 401s included, so a browser script can read why it was refused.
app.add_middleware(
    CORSMiddleware, allow_origins=["https://app.example.com"], allow_headers=["Authorization"], allow_methods=["GET"]
)

# Declares the bearer scheme, so /docs shows an Authorize button; zjwt does all the checking.
bearer_scheme = HTTPBearer(auto_error=False)


async def current_claims(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> dict:
    # every Authorization value: a request that carries several is refused with 400
    return await verifier.authenticate_async(request.headers.getlist("authorization"))


@app.exception_handler(zjwt.AuthError)
async def refuse(request: Request, error: zjwt.AuthError) -> Response:
    status, headers, body = zjwt.error_response(error)  # 401, 400 or 503, WWW-Authenticate, Retry-After
    return Response(body, status, dict(headers))


@app.get("/public")
async def public():
    return {"message": "Public endpoint: no token needed"}


@app.get("/protected")
async def protected(claims: Annotated[dict, Depends(current_claims)]):
    return {"message": "Access granted", "user": claims}
