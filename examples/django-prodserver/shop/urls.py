"""URLs: none are needed for the migration example."""

urlpatterns: list[object] = []
