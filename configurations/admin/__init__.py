"""The admin: the plain model admins, and the metadata-driven category editor built on them."""

from . import change_requests, history_admins, model_admins, reviews, tokens, webhooks  # noqa: F401 - registers the model admins
