"""WSGI entry point: ``gunicorn -c python:journalist_app.gunicorn_conf 'journalist_app.wsgi:app'``.

Unlocked keys live in the memory of the process that handled the login, so the officer
app must run as ONE worker process (threads are fine), for example::

    IBLAGH_DATA_DIR=/var/lib/iblagh/officer \\
        gunicorn --workers 1 --threads 4 --bind 127.0.0.1:8082 \\
            -c python:journalist_app.gunicorn_conf 'journalist_app.wsgi:app'
"""

from journalist_app import create_app

app = create_app()
