"""The WSGI application for gunicorn's gevent worker (the scale-out configuration):

    gunicorn -c python:examsvc.gunicorn_conf --bind 127.0.0.1:5001 examsvc.wsgi:app

gunicorn's gevent worker patches the standard library before it imports this module, and
``examsvc.gunicorn_conf`` starts the worker's face pool, process pool and jobs after the
fork, as ``examsvc serve`` does for the embedded default. See docs/deployment.md."""

from __future__ import annotations

from examsvc import create_app

app = create_app()
