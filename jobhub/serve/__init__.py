"""`jobhub serve`: every configured backend's jobs in one store, served to dashboards."""
