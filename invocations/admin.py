"""Admin: teams (members), functions (owner, team) and access keys. Users come from django.contrib.auth."""

from __future__ import annotations

from django.contrib import admin

from invocations.models import AccessKey, Function, Team


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    filter_horizontal = ("members",)


@admin.register(Function)
class FunctionAdmin(admin.ModelAdmin):
    list_display = ("name", "team", "owner", "created_at", "reserved_concurrency")
    list_filter = ("team",)
    search_fields = ("name",)
    list_select_related = ("team", "owner")
    autocomplete_fields = ("team",)
    fields = ("name", "team", "owner", "reserved_concurrency", "tags")
    readonly_fields = ("name",)


@admin.register(AccessKey)
class AccessKeyAdmin(admin.ModelAdmin):
    list_display = ("access_key_id", "user", "description", "is_active", "created_at", "last_used_at")
    list_filter = ("is_active",)
    search_fields = ("access_key_id", "user__username")
    readonly_fields = ("access_key_id", "user", "created_at", "last_used_at")
    exclude = ("secret_encrypted",)
