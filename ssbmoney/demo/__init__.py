"""The demo group: a story played from fixed seeds, and homes made from its feeds."""
