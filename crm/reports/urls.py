from django.urls import path

from crm.reports import views

urlpatterns = [path("reports/", views.reports_page, name="reports")]
