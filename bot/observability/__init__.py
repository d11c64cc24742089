"""What a running process tells its operators: Prometheus metrics, JSON logs with request ids,
and readiness checks. Kept import-light: bot/settings.py imports the settings from here."""
