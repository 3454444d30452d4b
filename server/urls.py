import os

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from server import health

urlpatterns = [
    path("admin/", admin.site.urls),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("healthz", health.healthz, name="healthz"),
    path("healthz/live", health.live, name="healthz-live"),
    path("healthz/ready", health.ready, name="healthz-ready"),
    path("api/agent/v1/", include("server.agent_api.urls")),
    path("api/", include("server.api.urls")),
    path("", include("dashboards.urls")),
]

if os.getenv("READYFLOOR_BENCH_HELLO") == "1":
    from server.bench_views import hello, hello_db

    urlpatterns[:0] = [path("bench/hello", hello), path("bench/hello-db", hello_db)]
