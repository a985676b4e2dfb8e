"""`aftm backtest`: replay a tick file through the condition engine and account for the signals.

- `conditions_file`: CONDITIONS.json in, validated conditions out.
- `runner`: the streaming loop and the output files.
- `report`: pure accounting of signals into trades, P&L and drawdown.
- `plot`: the equity curve (matplotlib, loaded only when asked for).
"""
