"""The proctoring engine: camera frames in, measurements and decisions out.

Knows nothing of Flask, so it runs in worker processes and is tested alone. Face work
(dlib) holds the GIL: call it through :mod:`proctoring.pool` or
:mod:`proctoring.distributed`, never from an event loop.
"""
