"""WSGI entry point (served by granian; see scripts/run and README).

Start-up work: this process is a node that runs functions (its environment pool serves every
RequestResponse call it receives), so it registers its runtimes and keeps its heartbeat fresh.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.whole_body import whole_bodies  # noqa: E402

application = whole_bodies(get_wsgi_application())

from invocations.node import start_node  # noqa: E402 - needs the app registry loaded above

start_node("web")
