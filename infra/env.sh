# Shared settings of the local stack, sourced by the infra scripts. Every value can be
# overridden from the environment; the TypeScript config (shared/config.ts) uses the
# same defaults.
# The service ports sit below 32768, outside Linux's ephemeral range (32768-60999): a port in
# that range can be held by any outgoing connection's local end, and then a listener cannot
# bind it ("Address already in use"), which once stopped Kafka from starting in CI.
: "${DATA_DIR:=$ROOT/.data}"
: "${PG_PORT:=25432}"
: "${PG_DATABASE:=ticketing}"
: "${REDIS_PORT:=26379}"
: "${REDIS_APPENDFSYNC:=everysec}"
: "${KAFKA_VERSION:=4.2.1}"
: "${KAFKA_PORT:=29092}"
: "${KAFKA_CONTROLLER_PORT:=29093}"
: "${KAFKA_HEAP:=1g}"
: "${JAEGER_VERSION:=1.76.0}"
: "${OTLP_GRPC_PORT:=4317}"
: "${OTLP_HTTP_PORT:=4318}"
: "${JAEGER_QUERY_PORT:=16686}"
: "${JAEGER_QUERY_GRPC_PORT:=16685}"
: "${JAEGER_MAX_TRACES:=100000}"
export DATA_DIR PG_PORT PG_DATABASE REDIS_PORT REDIS_APPENDFSYNC KAFKA_VERSION KAFKA_PORT KAFKA_CONTROLLER_PORT KAFKA_HEAP \
  JAEGER_VERSION OTLP_GRPC_PORT OTLP_HTTP_PORT JAEGER_QUERY_PORT JAEGER_QUERY_GRPC_PORT JAEGER_MAX_TRACES
