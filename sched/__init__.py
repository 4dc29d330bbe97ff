"""Scheduler: task placement, retiming, the policies and the zoo; it builds the ScheduleTable (core/table.py)."""
