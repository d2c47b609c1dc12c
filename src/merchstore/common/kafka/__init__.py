"""Kafka plumbing used by every service.

``clients`` holds the settings every client shares and the broker probe, ``producer`` the one
producer (a send completes when the broker acknowledged it), ``consumer`` the one batch-consumer
loop (an offset is committed only after its batch was handled), ``positions`` where a consumer
resumes, and ``topics`` the contract's topics.
"""
