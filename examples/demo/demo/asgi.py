"""ASGI entry point (uvicorn, hypercorn, granian --interface asgi, daphne).

With Channels installed the application is Channels' protocol router, so that Daphne serves
the same project with WebSocket routing available; HTTP goes to Django either way.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

django_application = get_asgi_application()

try:
    from channels.routing import ProtocolTypeRouter
except ImportError:  # Channels is optional: plain Django ASGI then
    application = django_application
else:
    application = ProtocolTypeRouter({"http": django_application})
