"""Django's models module for the app: the models live in ``configurations.data.models``.

Kept so that Django finds the models when the app loads and so that ``from configurations.models import
SystemConfiguration`` keeps working; code inside the app imports ``configurations.data.models``.
"""

from .data.models import *  # noqa: F403
from .data.models import __all__  # noqa: F401
