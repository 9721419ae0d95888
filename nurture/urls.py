from django.urls import path

from nurture import views
from nurture.whatsapp import views as whatsapp_views

app_name = "nurture"

urlpatterns = [
    path("messages/", views.message_list, name="message_list"),
    path("messages/new/", views.message_edit, name="message_new"),
    path("messages/<int:pk>/", views.message_edit, name="message_edit"),
    path("messages/<int:pk>/archive/", views.message_archive, name="message_archive"),
    path("sequences/", views.sequence_list, name="sequence_list"),
    path("sequences/new/", views.sequence_edit, name="sequence_new"),
    path("sequences/<int:pk>/", views.sequence_edit, name="sequence_edit"),
    path("sequences/<int:pk>/pause/", views.sequence_pause, name="sequence_pause"),
    path("campaigns/", views.campaign_list, name="campaign_list"),
    path("campaigns/new/", views.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/status/", views.campaign_status, name="campaign_status"),
    path("campaigns/<int:pk>/send/", views.campaign_send, name="campaign_send"),
    path("contacts/<int:pk>/send/", views.contact_send, name="contact_send"),
    path("contacts/<int:pk>/whatsapp/", whatsapp_views.contact_whatsapp, name="whatsapp"),
    path("t/c/<str:token>/", views.click, name="click"),
    path("t/o/<str:token>.gif", views.open_pixel, name="open"),
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
