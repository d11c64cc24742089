"""The LLM port with PII redacted on the way to the model and restored on the way back.

The model sees `<EMAIL_1>` where the rep wrote an address; when it answers or calls a tool with
`<EMAIL_1>`, the reply is restored before anyone reads it, so a gated draft tool gets the real
address and the rep reads real values. Offline adapters are passed straight through: nothing
leaves the process, and their rules read the real text."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from anthropic.types import Message

from agents.llm.port import LLM, LLMRequest
from agents.privacy.redactor import Redactor, Vault, map_strings


@dataclass
class RedactingLLM:
    """Wraps one run's LLM; its vault lives as long as the run, so placeholders stay stable."""

    inner: LLM
    redactor: Redactor
    vault: Vault = field(default_factory=Vault)

    @property
    def offline(self) -> bool:
        """Passes through: offline adapters are not redacted (no data leaves the process)."""
        return self.inner.offline

    def create(self, request: LLMRequest) -> Message:
        """Redact the prompt and messages, call the model, restore its text and tool inputs."""
        if self.inner.offline:
            return self.inner.create(request)
        streamed = _Restoring(self.vault, request.on_text) if request.on_text else None
        sent = replace(
            request,
            system=self._redact(request.system),
            messages=[self._message(m) for m in request.messages],
            on_text=streamed.feed if streamed else None,
        )
        message = self._restored(self.inner.create(sent))
        if streamed is not None:
            streamed.flush()
        return message

    def _redact(self, text: str) -> str:
        return self.redactor.redact(text, self.vault)

    def _message(self, message: dict[str, Any]) -> dict[str, Any]:
        content = message.get("content")
        if isinstance(content, str):
            return {**message, "content": self._redact(content)}
        if isinstance(content, list):
            return {**message, "content": [self._block(b) for b in content]}
        return message

    def _block(self, block: Any) -> Any:
        if not isinstance(block, dict):
            return block
        kind = block.get("type")
        if kind == "text":
            return {**block, "text": self._redact(block["text"])}
        if kind == "tool_use":
            return {**block, "input": map_strings(block.get("input", {}), self._redact)}
        if kind == "tool_result":
            content = block.get("content")
            if isinstance(content, str):
                return {**block, "content": self._redact(content)}
            if isinstance(content, list):
                return {**block, "content": [self._block(b) for b in content]}
        return block

    def _restored(self, message: Message) -> Message:
        if not len(self.vault):
            return message
        blocks = []
        for block in message.content:
            if block.type == "text":
                block = block.model_copy(update={"text": self.vault.restore(block.text)})
            elif block.type == "tool_use":
                restored = map_strings(block.input, self.vault.restore)
                block = block.model_copy(update={"input": restored})
            blocks.append(block)
        return message.model_copy(update={"content": blocks})


class _Restoring:
    """Streamed text with placeholders restored before it is passed on. A placeholder may
    arrive split over deltas, so text from an unclosed `<` is held back until its `>` (or
    until it is clearly no placeholder)."""

    HOLD_AT_MOST = 40  # longer than any placeholder

    def __init__(self, vault: Vault, on_text: Callable[[str], None]) -> None:
        self.vault = vault
        self.on_text = on_text
        self.held = ""

    def feed(self, delta: str) -> None:
        text = self.held + delta
        opened = text.rfind("<")
        if opened > text.rfind(">") and len(text) - opened < self.HOLD_AT_MOST:
            text, self.held = text[:opened], text[opened:]
        else:
            self.held = ""
        if text:
            self.on_text(self.vault.restore(text))

    def flush(self) -> None:
        if self.held:
            self.on_text(self.vault.restore(self.held))
            self.held = ""
