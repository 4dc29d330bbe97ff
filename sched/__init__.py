"""Scheduler: network model, cost model, task graph, retiming and the ScheduleTable."""
