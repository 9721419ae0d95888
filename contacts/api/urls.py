from django.urls import path
from rest_framework.routers import SimpleRouter

from contacts.api.capture import CaptureView
from contacts.api.segments import SegmentViewSet
from contacts.api.views import ContactViewSet, CustomFieldViewSet, InteractionKindViewSet, InteractionViewSet, NoteViewSet

router = SimpleRouter(use_regex_path=False)
router.register("contacts", ContactViewSet, basename="contact")
router.register("interactions", InteractionViewSet, basename="interaction")
router.register("notes", NoteViewSet, basename="note")
router.register("interaction-kinds", InteractionKindViewSet, basename="interaction-kind")
router.register("segments", SegmentViewSet, basename="segment")
router.register("custom-fields", CustomFieldViewSet, basename="custom-field")

urlpatterns = [
    path("capture/", CaptureView.as_view(), name="capture"),
    *router.urls,
]
