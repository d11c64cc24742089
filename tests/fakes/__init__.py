"""Local fakes of the services Countersign talks to (Anthropic API, SMTP)."""
