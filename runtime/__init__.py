"""The runtime: runs a physical plan as asyncio subtasks over Arrow batches, DuckDB compute.

Public surface:

- ``runtime.job.Job(plan, job_id=None, config=None)``: ``await start()``, ``await wait()``
  (raises the error of a failed job), ``await run()`` (both), ``cancel()``, ``status``
  (``JobStatus``: CREATED, RUNNING, FINISHED, CANCELED, FAILED), ``error``, ``id``,
  ``metrics()`` (dict, see ``runtime.metrics``), and for a plan ending in a collect node
  ``results()``: an async iterator of result batches (updating results carry
  ``planner.physical.ROW_KIND_COLUMN`` last).
- ``runtime.connectors.registry``: the table of connectors, ``create_source``,
  ``create_sink``, ``create_lookup`` (``register_source``/``register_sink`` for tests).
- ``runtime.operator.Operator``: the operator base class (``process_batch`` required,
  the other hooks optional).

Configuration keys read from the plan's config (or ``Job(config=...)``):
``sqlstream.runtime.batch-size`` (rows per source batch, 65536),
``sqlstream.runtime.linger`` (longest wait to fill a batch, 20 ms),
``sqlstream.runtime.channel-capacity`` (batches per channel, 8),
``sqlstream.runtime.threads`` (DuckDB worker threads per job, 2),
``sqlstream.runtime.compact-min-rows`` (window state compaction threshold, 100000).

Checkpoints (``runtime.checkpoint``; Flink's keys): ``execution.checkpointing.interval``
turns them on for a job with sinks (not for an interactive SELECT);
``execution.checkpointing.mode`` (EXACTLY_ONCE: aligned barriers, AT_LEAST_ONCE),
``.min-pause``, ``.timeout``, ``.max-concurrent-checkpoints``,
``.tolerable-failed-checkpoints``, ``state.checkpoints.dir`` (default ``checkpoints``),
``state.checkpoints.num-retained`` (1). Restore: ``execution.savepoint.path`` (a
checkpoint or savepoint folder), ``sqlstream.checkpoint.resume`` = ``latest`` (the
newest complete checkpoint of ``pipeline.name``; ``sqlstream run`` sets it unless
``--fresh``), ``execution.savepoint.ignore-unclaimed-state``. ``Job.stop_with_savepoint()``
takes a savepoint and stops; ``Job.metrics()["checkpoints"]`` has counts and, per
checkpoint, duration, sync/async/alignment times and bytes. A bounded job takes a final
checkpoint after its last data and deletes its checkpoints when it FINISHES.
"""
