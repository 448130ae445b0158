"""End-of-day batch: set-based business steps, partitioning, runner."""
