"""Cost reports: periods in the org's timezone, totals, breakdowns, digests."""
