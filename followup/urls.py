from django.urls import path

from followup import views

app_name = "followup"
urlpatterns = [
    path("today/", views.today, name="today"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("contacts/<int:pk>/tasks/new/", views.task_add, name="task_add"),
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/bell/", views.bell, name="bell"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/read-all/", views.notifications_read_all, name="notifications_read_all"),
    path("notifications/preferences/", views.email_preferences, name="email_preferences"),
]
