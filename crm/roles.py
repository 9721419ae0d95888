"""Roles are Django groups. One place answers "may this user do X?" for pages, API and admin."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

ADMIN = "admin"
MARKETER = "marketer"
SALES = "sales"
SALES_MANAGER = "sales_manager"
ROLES = (ADMIN, MARKETER, SALES, SALES_MANAGER)


def roles_of(user) -> frozenset[str]:
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_crm_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached = cached | {ADMIN}
        user._crm_roles = cached
    return cached


def is_admin(user) -> bool:
    return ADMIN in roles_of(user)


def is_marketer(user) -> bool:
    return MARKETER in roles_of(user)


def is_sales(user) -> bool:
    return SALES in roles_of(user)


def is_manager(user) -> bool:
    return SALES_MANAGER in roles_of(user)


def sees_all_contacts(user) -> bool:
    """Admins, marketers and sales managers work on the whole list; reps on their own."""
    return bool(roles_of(user) & {ADMIN, MARKETER, SALES_MANAGER})


def can_reassign(user) -> bool:
    return is_admin(user) or is_manager(user)


def can_import_export(user) -> bool:
    return bool(roles_of(user) & {ADMIN, MARKETER})


def role_required(*roles: str) -> Callable:
    """Login required, then one of `roles`; anyone else gets 403 (not a redirect loop)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        @login_required
        def wrapped(request: HttpRequest, *args, **kwargs):
            if not roles_of(request.user) & set(roles):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def roles_context(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    roles = roles_of(user)
    return {
        "roles": roles,
        "is_admin_role": ADMIN in roles,
        "is_marketer_role": MARKETER in roles,
        "is_sales_role": SALES in roles,
        "sees_all_contacts": sees_all_contacts(user),
        "can_import_export": can_import_export(user),
        "sees_reports": bool(roles & {ADMIN, MARKETER, SALES_MANAGER}),
    }


# What each group may do in Django admin (pages and API check roles through the helpers above).
_VIEW = ["view_contact", "view_interaction", "view_interactionkind", "view_note", "view_stagechange", "view_tag",
         "view_ruleset", "view_rulesetversion", "view_rule", "view_rescorerun"]
GROUP_PERMISSIONS: dict[str, list[str] | None] = {
    ADMIN: None,  # every permission of our apps and of auth users and groups
    MARKETER: _VIEW + ["add_contact", "change_contact", "add_interaction", "add_note", "add_tag", "import_contact", "export_contact"],
    SALES: ["view_contact", "view_interaction", "view_interactionkind", "view_note", "view_stagechange", "view_tag",
            "change_contact", "add_interaction", "add_note", "change_note"],
    SALES_MANAGER: ["reassign_contact"],
}


def ensure_groups(apps=None) -> None:
    """Create the role groups with their permissions (the migration and test fixtures use it)."""
    from django.apps import apps as global_apps
    from django.contrib.auth.management import create_permissions

    apps = apps or global_apps
    for app_config in apps.get_app_configs():
        if apps is not global_apps:
            app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        if apps is not global_apps:
            app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=["contacts", "scoring", "crm"])
    for name, codenames in GROUP_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=name)
        perms = ours | Permission.objects.filter(content_type__app_label="auth") if codenames is None else ours.filter(codename__in=codenames)
        group.permissions.set(perms)
