"""What the product tells its operators: Prometheus metrics and request-id logging (no business rules here)."""
