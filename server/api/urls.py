from django.urls import path

from server.api import views
from server.api.operator import api

# ninja's patterns are spliced into this app's own namespace, so pages keep reversing
# "api:seats" and "api:seat" and the schema lives beside them.
operator_patterns, _app_name, _namespace = api.urls

app_name = "api"
urlpatterns = [
    path("schema.json", views.openapi, name="openapi"),
    *operator_patterns,
]
