"""URLs: the page and the health endpoint."""

from django.urls import path
from visits import views

urlpatterns = [
    path("", views.index, name="index"),
    path("healthz", views.healthz, name="healthz"),
]
