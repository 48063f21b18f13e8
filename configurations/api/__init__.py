"""The HTTP API under /api/v1/ (Django REST framework, OpenAPI by drf-spectacular): docs/api.md."""
