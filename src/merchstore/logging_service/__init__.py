"""logging-service: operation logs over a client-streaming RPC, published to Kafka."""
