"""Create the demo bucket(s) in the compose stack's S3 (moto). Idempotent; exits non-zero on failure.

Usage: python create_bucket.py [BUCKET ...]   (default: $WAN_S3_BUCKET or "wan-videos")
Endpoint: $S3_ENDPOINT_URL (default http://s3:5000). moto accepts any credentials.
"""

from __future__ import annotations

import os
import sys
import time

import boto3
from botocore.exceptions import BotoCoreError, ClientError

EXISTS_CODES = ("BucketAlreadyOwnedByYou", "BucketAlreadyExists")


def main(argv: list[str]) -> int:
    endpoint = os.environ.get("S3_ENDPOINT_URL", "http://s3:5000")
    buckets = argv or [os.environ.get("WAN_S3_BUCKET", "wan-videos")]
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "testing"),
    )
    for bucket in buckets:
        for attempt in range(1, 11):
            try:
                s3.create_bucket(Bucket=bucket)
                print(f"created s3://{bucket} at {endpoint}", flush=True)
                break
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") in EXISTS_CODES:
                    print(f"s3://{bucket} already exists at {endpoint}", flush=True)
                    break
                print(f"create s3://{bucket} failed: {exc}", file=sys.stderr, flush=True)
                return 1
            except BotoCoreError as exc:  # endpoint not reachable yet
                if attempt == 10:
                    print(f"S3 endpoint {endpoint} unreachable: {exc}", file=sys.stderr, flush=True)
                    return 1
                time.sleep(2)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
