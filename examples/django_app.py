"""Django in one file, behind zjwt's WSGI middleware.

Run:  ZJWT_ISSUER=https://issuer.example ZJWT_AUDIENCE=orders-api gunicorn --chdir examples django_app:application

(pip install django gunicorn, and zjwt.)  In a project, build the verifier and wrap the application in
wsgi.py, exactly as the last lines here do; the views read request.META["zjwt.claims"].
"""

import os

from django.conf import settings

settings.configure(
    DEBUG=False,
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    SECRET_KEY="not used: this example has no sessions, forms or signing",
    MIDDLEWARE=["django.middleware.common.CommonMiddleware"],
)

from django.core.wsgi import get_wsgi_application  # noqa: E402 - after settings.configure, as Django requires
from django.http import JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402

import zjwt  # noqa: E402


def public(request):
    return JsonResponse({"message": "Public endpoint: no token needed"})


def protected(request):
    return JsonResponse({"message": "Access granted", "user": request.META["zjwt.claims"]})


urlpatterns = [path("public", public), path("protected", protected)]

verifier = zjwt.Verifier(os.environ["ZJWT_ISSUER"], audience=os.environ.get("ZJWT_AUDIENCE"))
application = zjwt.wsgi_middleware(get_wsgi_application(), verifier, public_paths=["/public"])
