"""The same job graph on a Ray cluster (``execution.target`` = ``ray``).

Only placement and channels differ from the local runtime: every subtask of the physical
plan is a Ray actor (``subtask.py``) that runs the local runtime's own ``Task`` with its
operator; exchanges carry Arrow batches, watermarks, barriers and end of input between
actors in order, with a bounded number in flight per channel (``channel.py``); the
checkpoint coordinator is an actor too (``coordinator.py``) and talks to the subtasks only
through ``runtime.checkpoint.messages``. ``job.py`` deploys, watches and tears down the
actors of one attempt; the restart strategy (``runtime.restart``) makes a new attempt
from the newest complete checkpoint when an actor or a node is lost. ``cluster.py``
connects to Ray and refuses, before anything starts, what cannot work.

Ray is an optional dependency (``pip install 'sqlstream[ray]'``): nothing outside this
package imports it, and ``runtime.launch`` imports this package only for Ray jobs.
"""
