"""The brain: LLM adapters, triage, specialists, tools and metering. Never imports slack_*."""
