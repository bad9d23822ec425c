"""LiveKit transport: Theo joins rooms as an agent participant (one Call per remote audio track)."""
