"""receiver: the game events API that publishes user actions to Kafka."""
