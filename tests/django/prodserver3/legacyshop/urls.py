"""No views: only the configuration matters here."""

urlpatterns: list[object] = []
