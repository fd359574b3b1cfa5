"""The runtime: runs a physical plan as asyncio subtasks over Arrow batches, DuckDB compute.

Public surface:

- ``runtime.job.Job(plan, job_id=None, config=None)``: ``await start()``, ``await wait()``
  (raises the error of a failed job), ``await run()`` (both), ``cancel()``, ``status``
  (``JobStatus``: CREATED, RUNNING, FINISHED, CANCELED, FAILED), ``error``, ``id``,
  ``metrics()`` (dict, see ``runtime.metrics``), and for a plan ending in a collect node
  ``results()``: an async iterator of result batches (updating results carry
  ``planner.physical.ROW_KIND_COLUMN`` last).
- ``runtime.connectors.registry``: ``register_source``, ``register_sink``,
  ``create_source``, ``create_sink``.
- ``runtime.operator.Operator``: the operator base class (``process_batch`` required,
  the other hooks optional).

Configuration keys read from the plan's config (or ``Job(config=...)``):
``sqlstream.runtime.batch-size`` (rows per source batch, 65536),
``sqlstream.runtime.linger`` (longest wait to fill a batch, 20 ms),
``sqlstream.runtime.channel-capacity`` (batches per channel, 8),
``sqlstream.runtime.threads`` (DuckDB worker threads per job, 2),
``sqlstream.runtime.compact-min-rows`` (window state compaction threshold, 100000).
"""
