"""Tasks and notifications over REST: /api/tasks/ and /api/notifications/. Mounted under /api/ by
crm.api_urls.

Roles: reps list, create and complete tasks on their own contacts (or assigned to them); sales
managers and admins all tasks; marketers read every task (reports) but change none. The
notifications are always the caller's own."""

from __future__ import annotations

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as H
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from contacts.api.filters import ContactIdFilter
from contacts.api.views import path_id
from contacts.selectors import contacts_editable_by
from crm import roles
from crm.api_common import ALL_ROLES, StrictInputSerializer, no_nul
from followup import selectors, services
from followup.models import Notification, Outcome, Task, TaskType

WORKERS = {roles.SALES, roles.SALES_MANAGER, roles.ADMIN}
TASK_HELP = {
    "id": H("Id."),
    "contact": H("Id of the contact the task is about."),
    "type": H("call, whatsapp, email, meeting or other."),
    "due_at": H("When it is due (ISO 8601 with a time zone)."),
    "assignee": H("Id of the user who should do it; empty: the contact's owner."),
    "done_at": H("When it was done; null while open."),
    "done_by": H("Id of the user who completed it."),
    "outcome": H("reached, no_answer, wrong_number, not_interested or meeting_booked; empty while open."),
    "note": H("A short note: what to do, then what happened."),
    "created_at": H("When the task was created."),
}


class TaskSerializer(serializers.ModelSerializer):
    # Declared: an open task's outcome is "" (the schema says so too, beside the choices).
    outcome = serializers.ChoiceField(choices=Outcome.choices, allow_blank=True, read_only=True,
                                      help_text=TASK_HELP["outcome"])

    class Meta:
        model = Task
        fields = ["id", "contact", "type", "due_at", "assignee", "done_at", "done_by", "outcome", "note", "created_at"]
        read_only_fields = fields
        extra_kwargs = {name: {"help_text": TASK_HELP[name]} for name in fields}


class TaskInputSerializer(StrictInputSerializer):
    read_only_names = frozenset({"id", "done_at", "done_by", "outcome", "created_at"})
    contact = serializers.IntegerField(min_value=1, help_text=TASK_HELP["contact"])
    type = serializers.ChoiceField(choices=TaskType.choices, default=TaskType.CALL, help_text=TASK_HELP["type"])
    due_at = serializers.DateTimeField(help_text=TASK_HELP["due_at"])
    assignee = serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text=TASK_HELP["assignee"])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, validators=[no_nul],
                                 help_text=H("What to do (at most 2,000 characters)."))


class TaskCompleteSerializer(StrictInputSerializer):
    outcome = serializers.ChoiceField(choices=Outcome.choices, help_text=TASK_HELP["outcome"])
    note = serializers.CharField(max_length=2000, required=False, allow_blank=True, validators=[no_nul],
                                 help_text=H("What happened (added to the task's note)."))


class TaskFilter(django_filters.FilterSet):
    contact = ContactIdFilter(field_name="contact_id")
    assignee = django_filters.CharFilter(method="filter_assignee", label=H("A user id, or “me”."))
    type = django_filters.ChoiceFilter(choices=TaskType.choices, label=H("Task type."))
    done = django_filters.BooleanFilter(field_name="done_at", lookup_expr="isnull", exclude=True,
                                        label=H("true: only done tasks; false: only open ones."))
    due_before = django_filters.IsoDateTimeFilter(field_name="due_at", lookup_expr="lt",
                                                  label=H("Only tasks due before this time."))

    class Meta:
        model = Task
        fields: list[str] = []

    def filter_assignee(self, queryset, name, value):
        if value == "me":
            return queryset.filter(assignee=self.request.user)
        if not value.isdigit():
            raise serializers.ValidationError({"assignee": [H("A user id, or “me”.")]})
        return queryset.filter(assignee_id=int(value))


@extend_schema_view(
    list=extend_schema(summary="List tasks (a rep: their own)", responses=TaskSerializer(many=True)),
    retrieve=extend_schema(summary="Get a task", parameters=[path_id("task")], responses=TaskSerializer),
    create=extend_schema(summary="Plan a follow-up task", request=TaskInputSerializer, responses={201: TaskSerializer}),
)
class TaskViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TaskSerializer
    role_rules = {"list": ALL_ROLES, "retrieve": ALL_ROLES, "create": WORKERS, "complete": WORKERS}
    lookup_value_converter = "int"
    filter_backends = [DjangoFilterBackend]
    filterset_class = TaskFilter
    queryset = Task.objects.none()
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Task]:
        return selectors.tasks_visible(self.request.user).order_by("due_at", "id")

    def create(self, request: Request) -> Response:
        data = TaskInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        contact = get_object_or_404(contacts_editable_by(request.user), pk=values["contact"])
        assignee = None
        if values.get("assignee"):
            assignee = get_user_model().objects.filter(pk=values["assignee"]).first()
            if assignee is None:
                raise serializers.ValidationError({"assignee": [H("No such user.")]})
            if assignee != request.user and not roles.can_reassign(request.user):
                raise serializers.ValidationError({"assignee": [H("Only managers and admins give tasks to others.")]})
        try:
            task = services.task_create(contact=contact, type=values["type"], due_at=values["due_at"], assignee=assignee,
                                        note=values.get("note", ""), by=request.user)
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from exc
        return Response(TaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(summary="Complete a task (once: completing it again changes nothing and answers the same task)",
                   parameters=[path_id("task")], request=TaskCompleteSerializer, responses=TaskSerializer)
    @action(detail=True, methods=["post"])
    def complete(self, request: Request, pk=None) -> Response:
        task = self.get_object()  # a rep's queryset holds only their own tasks
        data = TaskCompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        done = services.task_complete(task=task, outcome=data.validated_data["outcome"],
                                      note=data.validated_data.get("note", ""), by=request.user)
        return Response(TaskSerializer(done.task).data)


class NotificationSerializer(serializers.ModelSerializer):
    text = serializers.SerializerMethodField(help_text=H("The notification in the caller's language."))
    read = serializers.SerializerMethodField(help_text=H("Whether the caller marked it read."))

    class Meta:
        model = Notification
        fields = ["id", "kind", "text", "contact", "created_at", "read", "read_at"]
        read_only_fields = fields
        extra_kwargs = {
            "id": {"help_text": H("Id.")},
            "kind": {"help_text": H("assigned, digest or team_digest.")},
            "contact": {"help_text": H("Id of the contact it is about, if any.")},
            "created_at": {"help_text": H("When it was written.")},
            "read_at": {"help_text": H("When it was marked read; null while unread.")},
        }

    def get_text(self, obj: Notification) -> str:
        return obj.text

    def get_read(self, obj: Notification) -> bool:
        return obj.read_at is not None


class MarkReadSerializer(StrictInputSerializer):
    ids = serializers.ListField(child=serializers.IntegerField(min_value=1), required=False, max_length=1000,
                                help_text=H("Ids to mark read; omitted: all of the caller's unread notifications."))


class ReadCountSerializer(serializers.Serializer):
    marked = serializers.IntegerField(help_text=H("How many notifications were marked read."))


class NotificationFilter(django_filters.FilterSet):
    read = django_filters.BooleanFilter(field_name="read_at", lookup_expr="isnull", exclude=True,
                                        label=H("true: only read ones; false: only unread ones."))

    class Meta:
        model = Notification
        fields: list[str] = []


@extend_schema_view(
    list=extend_schema(summary="The caller's notifications, newest first", responses=NotificationSerializer(many=True)),
    retrieve=extend_schema(summary="Get one of the caller's notifications", parameters=[path_id("notification")],
                           responses=NotificationSerializer),
)
class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = NotificationSerializer
    role_rules = {"*": ALL_ROLES}
    lookup_value_converter = "int"
    filter_backends = [DjangoFilterBackend]
    filterset_class = NotificationFilter
    queryset = Notification.objects.none()
    http_method_names = ["get", "post", "head", "options"]

    def get_queryset(self) -> QuerySet[Notification]:
        return selectors.notifications_of(self.request.user).order_by("-created_at", "-id")

    @extend_schema(summary="Mark one notification read", parameters=[path_id("notification")], request=None,
                   responses=NotificationSerializer)
    @action(detail=True, methods=["post"])
    def read(self, request: Request, pk=None) -> Response:
        notification = self.get_object()
        services.notifications_mark_read(user=request.user, ids=[notification.pk])
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)

    @extend_schema(summary="Mark the caller's notifications read (all, or the ids given)", request=MarkReadSerializer,
                   responses=ReadCountSerializer)
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        return Response({"marked": services.notifications_mark_read(user=request.user, ids=data.validated_data.get("ids"))})


router = SimpleRouter(use_regex_path=False)
router.register("tasks", TaskViewSet, basename="task")
router.register("notifications", NotificationViewSet, basename="notification")
urlpatterns = router.urls
