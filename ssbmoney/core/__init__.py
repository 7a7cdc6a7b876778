"""The pure core: entries, validation, messages, the fold, deciding, the state hash.

No I/O here, and no imports of the store, the network, textual or aiohttp: every
function takes its inputs (keys, entries, clocks) and returns values."""
