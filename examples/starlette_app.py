"""Starlette (or any ASGI 3 app) behind zjwt's ASGI middleware, with CORSMiddleware outside it.

Run:  ZJWT_ISSUER=https://issuer.example ZJWT_AUDIENCE=orders-api uvicorn --app-dir examples starlette_app:app

(pip install starlette uvicorn, and zjwt.)  The middleware also refuses WebSockets before they are accepted.
"""

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

import zjwt

verifier = zjwt.Verifier(os.environ["ZJWT_ISSUER"], audience=os.environ.get("ZJWT_AUDIENCE"))


async def public(request):
    return JSONResponse({"message": "Public endpoint: no token needed"})


async def protected(request):
    return JSONResponse({"message": "Access granted", "user": request.scope["zjwt.claims"]})


app = Starlette(
    routes=[Route("/protected", protected), Route("/public", public)],
    middleware=[
        # The first is outermost: CORS answers preflights before zjwt sees them, and adds its headers to
        # zjwt's 401s, so a browser script can read why it was refused.
        Middleware(CORSMiddleware, allow_origins=["https://app.example.com"], allow_headers=["Authorization", "DPoP"]),
        Middleware(zjwt.asgi_middleware, verifier=verifier, public_paths=["/public"]),
    ],
)
