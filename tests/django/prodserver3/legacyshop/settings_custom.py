"""The same project with one process of a custom django-prodserver backend class.

django-prodserver accepted any class path; `init --from-django` translates the rest and says,
with this file's line, which process it could not translate.
"""

from legacyshop.settings import *  # noqa: F403
from legacyshop.settings import PRODUCTION_PROCESSES as _BASE

PRODUCTION_PROCESSES = {
    **_BASE,
    "custom": {
        "BACKEND": "legacyshop.backends.CustomServer",
        "ARGS": {"port": "9000"},
    },
}
