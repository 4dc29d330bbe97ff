"""Parameter sweeps: networks × processor counts × policies (× FPGA boards), spread over Dask workers.

Every point is one task on a ``dask.distributed`` cluster (:mod:`~layerpipe.sweep.cluster`): a
:class:`~distributed.LocalCluster` of worker processes on this machine's cores by default, or an
existing cluster (``--cluster tcp://host:8786``), so a board-build sweep of hundreds of designs
can spread over many machines.

A point (:mod:`~layerpipe.sweep.points`) runs :func:`layerpipe.sched.scheduler.schedule` and, for
each board, a build of the scheduled design (:func:`layerpipe.boards.designs.design_for_table`
then :func:`layerpipe.boards.build.build`) that depends on the point's schedule
(:mod:`~layerpipe.sweep.tasks`). Every task catches its own exceptions and returns them as data,
and the client (:mod:`~layerpipe.sweep.run`) turns a task that failed anyway (a worker that died,
a result that could not be unpickled) into a row too: one failing point is one row with
``status = error`` and its message, never a lost sweep.

Speedups are those of ``layerpipe compare`` (:func:`layerpipe.sched.report.compare_rows`): period
of ``pipedream`` at the same P over the point's period, and of ``sequential`` (one processor) over
it. The references are scheduled even when their policy is not swept.

Outputs in the output folder (:mod:`~layerpipe.sweep.results`), each written atomically (temporary
file, then rename) and rewritten while the sweep runs, so an interrupted sweep leaves the points it
finished: ``results.csv``, ``results.json`` (the command line that reproduces it, versions, cluster,
cost model, the rows), ``tables/`` (each point's ScheduleTable), ``builds/`` (board builds) and, at
the end, the plots ``speedup-<network>.png`` and ``period-<network>.png``.
"""
