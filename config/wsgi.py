"""WSGI entry point (served by granian; see scripts/run and README).

Start-up work: this process is a node that runs functions (its environment pool serves every
RequestResponse call it receives), so it starts its node: registers its runtimes, keeps its
heartbeat fresh, ends its environments at the shutdown deadline (invocations/node.py).
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

from config.whole_body import whole_bodies  # noqa: E402

application = whole_bodies(get_wsgi_application())

from invocations import node  # noqa: E402 - needs the app registry loaded above

node.current().start("web")
