"""The running service: aiohttp app, main loop, metrics."""
