"""The runtime: runs a physical plan as asyncio subtasks over Arrow batches, DuckDB compute."""
