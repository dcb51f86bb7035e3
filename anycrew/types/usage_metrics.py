"""UsageMetrics: token counts of a run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class UsageMetrics(BaseModel):
    """Tokens spent and requests made, summed over a run's LLM calls."""

    model_config = ConfigDict(defer_build=True)

    total_tokens: int = 0
    prompt_tokens: int = 0
    cached_prompt_tokens: int = 0
    completion_tokens: int = 0
    successful_requests: int = 0

    def add_usage_metrics(self, usage_metrics: UsageMetrics) -> None:
        """Add *usage_metrics* to these counts in place."""
        self.total_tokens += usage_metrics.total_tokens
        self.prompt_tokens += usage_metrics.prompt_tokens
        self.cached_prompt_tokens += usage_metrics.cached_prompt_tokens
        self.completion_tokens += usage_metrics.completion_tokens
        self.successful_requests += usage_metrics.successful_requests
