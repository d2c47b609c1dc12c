"""One lifecycle for every service: serve, announce the start, be ready, stop on a signal.

Each ``main.py`` builds its parts and hands them to :func:`~.http.serve_http` or
:func:`~.grpc.serve_grpc`. Those bind the port, announce the start on ``event_log`` with the
service's code and text (:data:`~merchstore.common.messages.START_ANNOUNCEMENTS`), report ready
only after that, and on SIGTERM, Ctrl-C or a closed terminal (SIGHUP) stop taking work, let
what is in flight finish and exit 0. Signal handling lives in ``signals`` and nowhere else.
"""
