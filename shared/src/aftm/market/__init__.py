"""What TAIFEX says: its products, how their prices are written, and its trading rules.

Plain values and pure functions; nothing here reads a clock or a socket. The only I/O is
loading the holiday file. Instants are timezone-aware datetimes; answers are in Asia/Taipei.

- `products`: Product, PRODUCTS (TXF, MXF, TMF), DEFAULT_SYMBOLS, SYMBOL_SHAPE, product_of.
- `prices`: whole_points, reading an exact whole number of points.
- `calendar`: Calendar of market holidays; load_calendar() reads the file AFTM_MARKET_CALENDAR
  names, else the packaged `taifex_holidays.toml` (2026 published by TWSE; 2027 provisional,
  derived from the statutory holidays until TWSE publishes it); is_trading_day,
  next_trading_day, previous_trading_day. Dates outside the file raise CalendarNotCovering.
- `sessions`: state_at(calendar, at, last_trading_day=None) -> MarketState(phase, session,
  may_amend) with Phase PRE_OPEN / REGULAR / AFTER_HOURS / CLOSED; contract_state_at for a
  symbol; next_open, next_close; is_closing_within(calendar, at, window) for "the last N minutes
  before a close". Regular 08:45-13:45 (13:30, and no evening, on a contract's last trading
  day); after-hours 15:00-05:00 on the evening of every trading day; orders accepted from 10
  minutes before an open, not changed or cancelled in the last two of them.
- `contracts`: contract_of(symbol, reference) (TXFL6 = TX December 2026; the year digit is
  resolved to the earliest year not before reference year - 1), third_wednesday,
  last_trading_day (the third Wednesday, or the next trading day when it is a holiday),
  spot_month, listed_months (spot, the next two calendar months, the next three quarterly
  months), is_listed, symbol_of.
- `price_limits`: daily_price_limits(reference) -> PriceLimits(lower, upper), ±10% of the
  previous settlement truncated toward it to whole points; PriceLimits.admits(price).

Sources (each module cites the clause it follows): TAIFEX TX trading rules and contract
specification (amended 2018-03-31) at selaw.com.tw; TAIFEX's after-hours page
https://www.taifex.com.tw/enl/eng4/aHIntroduction; TWSE's 2026 market calendar as announced
2025-10-29. Not modelled: TAIFEX's dynamic price bands, unscheduled closures (typhoons: add the
day to the holiday file), and weekly contracts.
"""
