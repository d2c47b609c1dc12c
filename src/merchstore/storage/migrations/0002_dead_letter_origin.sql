-- Dead letters remember the topic's incarnation (its broker-given id): offsets start again at 0
-- when a topic is created again (a memory-only broker restarted), and a new message at an old
-- offset is a new dead letter, not a redelivery of the old one.
ALTER TABLE dead_letters ADD COLUMN topic_id text NOT NULL DEFAULT '';
ALTER TABLE dead_letters DROP CONSTRAINT IF EXISTS dead_letters_topic_kafka_partition_kafka_offset_key;
ALTER TABLE dead_letters ADD CONSTRAINT dead_letters_origin_key
    UNIQUE (topic, topic_id, kafka_partition, kafka_offset);
