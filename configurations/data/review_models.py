"""Four-eyes review: each environment's policy, and the change requests that must pass it (services/reviews.py)."""

from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from ..core.vocabulary import ENVIRONMENTS, Environment
from .change_records import recorded_history
from .model_base import User, in_choices

MAX_APPROVALS = 10


class ReviewPolicy(models.Model):
    """How many approvals a change to an environment needs (0: none, live at once), and who may give them."""

    environment = models.CharField(max_length=20, primary_key=True, choices=Environment.choices)
    required_approvals = models.PositiveSmallIntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(MAX_APPROVALS)]
    )
    allow_self_approval = models.BooleanField(default=False)
    updated_at = models.DateTimeField(db_default=Now(), auto_now=True)

    history = recorded_history("configuration_review_policies_changes")

    class Meta:
        db_table = "configuration_review_policies"
        verbose_name = _("review policy")
        verbose_name_plural = _("review policies")
        constraints = [
            models.CheckConstraint(condition=in_choices("environment", Environment), name="review_policy_environment"),
            models.CheckConstraint(
                condition=Q(required_approvals__gte=0, required_approvals__lte=MAX_APPROVALS),
                name="review_policy_approvals_range",
            ),
        ]
        permissions = [
            (f"bypass_review_{env}", f"Can write to {env} without review, giving a reason") for env in ENVIRONMENTS
        ]

    def __str__(self) -> str:
        return f"{self.environment}: {self.required_approvals} approval(s)"


class RequestState(models.TextChoices):
    """Where a change request is: draft -> in review -> approved -> applied, or rejected, cancelled, conflicted."""

    DRAFT = "draft", _("Draft")
    IN_REVIEW = "in_review", _("In review")
    APPROVED = "approved", _("Approved")
    APPLIED = "applied", _("Applied")
    REJECTED = "rejected", _("Rejected")
    CANCELLED = "cancelled", _("Cancelled")
    CONFLICTED = "conflicted", _("Conflicted")


OPEN_STATES = (RequestState.DRAFT, RequestState.IN_REVIEW, RequestState.APPROVED)


class ChangeRequest(models.Model):
    """Changes to one environment, waiting for their approvals before they go live together."""

    environment = models.CharField(max_length=20, choices=Environment.choices)
    title = models.CharField(max_length=200)
    reason = models.TextField(blank=True, default="")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=20, choices=RequestState.choices, default=RequestState.DRAFT)
    items_digest = models.CharField(max_length=64, blank=True, default="")
    apply_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now())
    updated_at = models.DateTimeField(auto_now=True)
    decided_by = models.ForeignKey(User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision_reason = models.TextField(blank=True, default="")
    conflicts = models.TextField(blank=True, default="")  # what changed meanwhile, when conflicted
    applied_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "configuration_change_requests"
        verbose_name = _("change request")
        verbose_name_plural = _("change requests")
        constraints = [
            models.CheckConstraint(condition=in_choices("state", RequestState), name="change_request_state"),
            models.CheckConstraint(condition=in_choices("environment", Environment), name="change_request_environment"),
        ]
        indexes = [models.Index(fields=["environment", "state"], name="idx_change_request_env_state")]

    def __str__(self) -> str:
        return f"#{self.pk} {self.title} ({self.environment}, {self.state})"


class ChangeRequestItem(models.Model):
    """One key of a request: its new value (encrypted if a secret) or its deletion, and the version it was based on."""

    request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="items")
    category = models.CharField(max_length=50)
    config_key = models.CharField(max_length=100)
    value = models.TextField(null=True, blank=True)
    value_type = models.CharField(max_length=20, null=True, blank=True)
    is_encrypted = models.BooleanField(default=False)
    deletes = models.BooleanField(default=False)  # the item deletes the key
    base_version = models.BigIntegerField(default=0)  # the key's newest history id when the item was made (0: none)
    # The history row the item's apply wrote (None before it applied, or when it changed nothing): the link from a
    # history entry to the request that caused it, which a typed reason cannot forge.
    history_id = models.BigIntegerField(null=True, blank=True, db_index=True)

    class Meta:
        db_table = "configuration_change_request_items"
        constraints = [
            models.UniqueConstraint(fields=("request", "category", "config_key"), name="change_request_item_once")
        ]

    def __str__(self) -> str:
        return f"{self.category}.{self.config_key}"


class ChangeRequestApproval(models.Model):
    """One approver's approval of a request's items as they were (their digest): an edit withdraws it."""

    request = models.ForeignKey(ChangeRequest, on_delete=models.CASCADE, related_name="approvals")
    approver = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    items_digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_default=Now())

    class Meta:
        db_table = "configuration_change_request_approvals"
        constraints = [models.UniqueConstraint(fields=("request", "approver"), name="change_request_approval_once")]

    def __str__(self) -> str:
        return f"#{self.request_id} approved by {self.approver_id}"
