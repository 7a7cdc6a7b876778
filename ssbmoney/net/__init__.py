"""The network adapters: the aiohttp WebSocket server and client that drive the core's
handshake and replication state machines, and LAN discovery. Sockets live here only."""
