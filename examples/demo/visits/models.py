"""One table: a row per recorded visit, saying who recorded it."""

from django.db import models


class Visit(models.Model):
    #: what recorded the visit: "web", "celery", "rq", ... or a test's unique marker
    source = models.CharField(max_length=200, db_index=True)
    created = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.source} at {self.created:%Y-%m-%d %H:%M:%S}"
