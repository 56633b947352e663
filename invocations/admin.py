"""Admin: teams (accounts, members and roles), functions, access keys, and the activity log (read
only). Users come from django.contrib.auth. Every change made here is the superuser's own."""

from __future__ import annotations

from typing import Any

from django.contrib import admin

from invocations.models import AccessKey, Activity, Function, Membership, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ("user",)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "account_id", "created_at")
    search_fields = ("name", "account_id")
    readonly_fields = ("account_id",)
    inlines = (MembershipInline,)

    def get_readonly_fields(self, request: Any, obj: Any = None) -> tuple[str, ...]:
        # The account id is in every ARN of the team's functions and in other teams' policies.
        return ("account_id",) if obj is not None else ()


@admin.register(Function)
class FunctionAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "owner", "created_at", "reserved_concurrency")
    list_filter = ("team",)
    search_fields = ("name",)
    list_select_related = ("team", "owner")
    autocomplete_fields = ("team",)
    fields = ("name", "team", "owner", "reserved_concurrency", "tags")
    readonly_fields = ("name", "team")


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    list_display = ("access_key_id", "user", "team", "description", "is_active", "created_at", "last_used_at")
    list_filter = ("is_active", "team")
    search_fields = ("access_key_id", "user__username")
    readonly_fields = ("access_key_id", "user", "team", "created_at", "last_used_at")
    exclude = ("secret_encrypted",)


@admin.register(Activity)
class ActivityAdmin(admin.ModelAdmin):
    """The audit log, read only: no one adds, edits or deletes a row."""

    list_display = ("created_at", "account_id", "actor_name", "via", "action", "function_name")
    list_filter = ("via", "action")
    search_fields = ("actor_name", "function_name", "action", "account_id")

    def has_add_permission(self, request: Any) -> bool:
        return False

    def has_change_permission(self, request: Any, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: Any, obj: Any = None) -> bool:
        return False
