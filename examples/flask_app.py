"""Flask behind zjwt's WSGI middleware, with flask-cors for browser clients.

Run:  ZJWT_ISSUER=https://issuer.example ZJWT_AUDIENCE=orders-api gunicorn --chdir examples flask_app:app

(pip install flask flask-cors gunicorn, and zjwt: pip install it, or put zjwt.py beside this file.)
"""

import os

from flask import Flask, request
from flask_cors import CORS

import zjwt

verifier = zjwt.Verifier(os.environ["ZJWT_ISSUER"], audience=os.environ.get("ZJWT_AUDIENCE"))

app = Flask(__name__)
CORS(app, origins=["https://app.example.com"], allow_headers=["Authorization", "DPoP"])


@app.get("/public")
def public():
    return {"message": "Public endpoint: no token needed"}


@app.get("/protected")
def protected():
    return {"message": "Access granted", "user": request.environ["zjwt.claims"]}


# zjwt wraps Flask, so it sees every request first.  flask-cors answers CORS preflights inside Flask, and
# browsers send no token with a preflight: preflight=True lets those (and only those) through.  A refusal
# is zjwt's own answer, without CORS headers: a browser script sees it as a failed request, not a readable
# 401.  (Starlette's and FastAPI's CORSMiddleware can sit outside zjwt and add them: see those examples.)
app.wsgi_app = zjwt.wsgi_middleware(app.wsgi_app, verifier, public_paths=["/public"], preflight=True)
