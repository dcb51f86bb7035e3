"""Stream sessions and the frame contract (re-exported at anycrew.types.streaming)."""
