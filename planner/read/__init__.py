"""Reading one statement of a script into a ``planner.statements`` dataclass.

``base`` (the statement's tokens and errors at their position), ``tables`` (CREATE TABLE:
columns, constraints, watermark, WITH options), ``sql`` (statements sqlglot parses: queries,
INSERT, views, DROP, ALTER), ``words`` (statements read from their words: SET, SHOW, STOP
JOB, EXPLAIN, statement sets). Each layer is a class that extends the one below;
``planner.parse.Reader`` is the top and picks the reading by the statement's first words.
"""
