"""Configuration machinery every service shares.

``sections`` holds the shared sections and the base every section derives from, ``base`` the
settings every process reads (data directory, Kafka, PostgreSQL, secrets) and their sources,
``secrets`` the JWT secret's rules, ``errors`` the messages a bad setting gets, and ``defaults``
the packaged YAML of defaults. The whole system's settings, with each service's own section
from its ``settings.py``, are :class:`merchstore.settings.Settings`.
"""
