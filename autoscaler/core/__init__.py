"""The functional core: pure, synchronous, fully typed decision logic.

Nothing here does IO, reads a clock, or touches asyncio: every function takes ``now`` and
its inputs as arguments. That is what makes decisions explainable, testable at every
edge, and replayable offline (``backtest``).
"""
