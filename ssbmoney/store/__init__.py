"""Storage adapters: a group's durable log and index, and where a home's files live."""
