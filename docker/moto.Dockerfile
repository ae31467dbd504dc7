# Local S3 for the compose stack: moto's server (https://docs.getmoto.org/en/latest/docs/server_mode.html)
# plus boto3 for the one-shot bucket creation. Build context: docker/ (nothing else is needed).
FROM python:3.11-slim

RUN pip install --no-cache-dir "moto[server,s3]>=5,<6" "boto3>=1.34" \
    && useradd --create-home --uid 50001 moto

COPY create_bucket.py /opt/wan/create_bucket.py

USER moto
EXPOSE 5000
CMD ["moto_server", "-H", "0.0.0.0", "-p", "5000"]
