"""The actor for Dramatiq, and the broker module: `dramatiq visits.dramatiq_actors`.

Dramatiq does not set Django up, so importing this module does, then declares the Redis broker
before the actor (an actor binds to the broker set at its declaration).
"""

import os

import django
import dramatiq
from dramatiq.brokers.redis import RedisBroker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
django.setup()

from django.conf import settings  # noqa: E402 - after django.setup()

from visits import core  # noqa: E402

broker = RedisBroker(url=settings.REDIS_URL)
dramatiq.set_broker(broker)


@dramatiq.actor(queue_name="default")
def record_visit(source: str, work: int = 0) -> None:
    core.record_visit(source, work)
