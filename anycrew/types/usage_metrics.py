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
        self.add_counts(
            total_tokens=usage_metrics.total_tokens,
            prompt_tokens=usage_metrics.prompt_tokens,
            cached_prompt_tokens=usage_metrics.cached_prompt_tokens,
            completion_tokens=usage_metrics.completion_tokens,
            successful_requests=usage_metrics.successful_requests,
        )

    def add_counts(
        self,
        *,
        total_tokens: int = 0,
        prompt_tokens: int = 0,
        cached_prompt_tokens: int = 0,
        completion_tokens: int = 0,
        successful_requests: int = 0,
    ) -> None:
        """Add these counts in place, without building a UsageMetrics for them.

        Called once per LLM call. The fields are plain ints with no validators, so
        they are added straight into the model's dict rather than through pydantic's
        ``__setattr__``, and marked as set.
        """
        fields = self.__dict__
        fields["total_tokens"] += total_tokens
        fields["prompt_tokens"] += prompt_tokens
        fields["cached_prompt_tokens"] += cached_prompt_tokens
        fields["completion_tokens"] += completion_tokens
        fields["successful_requests"] += successful_requests
        self.__pydantic_fields_set__.update(_COUNTS)


_COUNTS = frozenset(UsageMetrics.model_fields)
