"""Media in and out, one module per job.

In: ``references`` (what a reference is, no I/O) → ``checks`` (read, sniff, measure and probe before any
money is spent) → ``uploads`` (Runware mediaStorage or presigned S3 URLs; returns the resolved request).
Out: ``landing`` (stream each result to S3 and record it) and ``delivery`` (Runware's uploadEndpoint,
and the one entry point ``land_task_outputs``). ``s3`` and ``formats`` are shared helpers.

Nothing is re-exported here so that importing one job (the request model imports ``references``) stays
cheap at DAG-parse time: boto3/botocore and PyAV are imported only inside the functions that need them.
"""
