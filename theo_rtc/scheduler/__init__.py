"""Scheduling of engine work: priority admission (realtime before batch) per worker."""

from theo_rtc.scheduler.priority import Priority, PriorityLimiter

__all__ = ["Priority", "PriorityLimiter"]
