"""Drafts: what the AI proposes, who may approve it, and what happens exactly once after."""
