"""research/: research summaries from the Kestrel data science and product research teams."""

from datetime import date

from sample_docs.corpus import Doc

DOCUMENTS = (
    Doc(
        "research/compression-study.pdf",
        "Time-Series Compression Study",
        "Dr. Lena Fischer",
        date(2024, 6, 24),
        """
## Summary

We compared four encodings for metric points (a 64-bit timestamp and a 64-bit float value)
on a sample of 2.1 billion production points from 40 customers. The winner, Gorilla-style
XOR encoding of values with delta-of-delta timestamps followed by zstd level 3 per block,
stores a point in 1.21 bytes on average, against 1.37 bytes for Gorilla alone and 16 bytes
uncompressed. We recommend adopting it for sealed segments.

## Data set

Points were sampled over 14 days in May 2024: 61 percent gauges, 27 percent counters, 12
percent histogram buckets. Most series report every 15 seconds; 8 percent have irregular
timestamps.

<<page>>

## Methods

Each encoding compressed blocks of 120 points per series (30 minutes at 15 second
intervals). We measured the compressed size, the encoding throughput and the decoding
throughput on one core of a c7g.xlarge instance.

## Encodings compared

- Plain: 16 bytes per point, as a baseline.
- Gorilla: delta-of-delta timestamps and XOR of consecutive values, from the 2015 paper by
  Pelkonen and others at Facebook.
- Delta plus zstd: timestamps and values delta-encoded, then zstd level 3.
- Gorilla plus zstd: Gorilla blocks compressed again with zstd level 3.

<<page>>

## Results

- Plain: 16.00 bytes per point; decoding is a memory copy.
- Gorilla: 1.37 bytes per point; decodes 310 million points per second.
- Delta plus zstd: 1.94 bytes per point; decodes 180 million points per second.
- Gorilla plus zstd: 1.21 bytes per point; decodes 240 million points per second.

Counters compress best (0.72 bytes per point with Gorilla plus zstd) because their deltas
repeat. Histogram buckets compress worst, at 2.05 bytes per point.

<<page>>

## Recommendation

Adopt Gorilla plus zstd for sealed segments, where decode speed matters less than storage
cost, and keep plain Gorilla for the in-memory head block. At our current volume this saves
about 11.7 percent of object storage, roughly $38,000 per month.

## Limitations

The sample over-represents large customers, and irregular series were too few to study on
their own. A follow-up will measure the effect on query latency for 30-day queries.
""",
        ("compression", "storage", "study"),
    ),
    Doc(
        "research/anomaly-detection-evaluation.pdf",
        "Evaluating Anomaly Detectors for Metric Alerts",
        "Dr. Rahul Mehta",
        date(2024, 3, 18),
        """
## Summary

We evaluated three anomaly detectors on 412 labelled incidents from 2023 across 1,850
metric series. A seasonal decomposition with daily and weekly periods (STL) followed by a
robust z-score performed best, with precision 0.81 and recall 0.74 at the chosen threshold.
It is the model we recommend for the anomaly detection feature.

## Why anomaly detection

Static thresholds fail on metrics with strong daily cycles: a threshold tight enough to
catch a drop at noon fires every night. In the 2023 alert data, 38 percent of pages on
seasonal metrics were closed as noise.

<<page>>

## Detectors compared

- Rolling z-score over the previous hour, flagging points beyond 3 standard deviations.
- Isolation forest on 10-minute windows with lag features, retrained daily.
- STL decomposition with daily and weekly periods on the last 4 weeks, then a robust z-score
  (median and MAD) of the residual, flagging beyond 4.

## Labelling

Two engineers labelled each incident's start and end on the affected series independently;
disagreements (9 percent) were settled by a third. A detection counts if it falls within 10
minutes after the labelled start.

<<page>>

## Results

- Rolling z-score: precision 0.42, recall 0.69. Most false positives were daily peaks.
- Isolation forest: precision 0.63, recall 0.71, but training cost 14 CPU-hours per day.
- STL with robust z-score: precision 0.81, recall 0.74, median detection delay 4 minutes.

STL missed slow drifts of less than 5 percent a day, which were labelled as incidents in 23
cases; a separate trend check is proposed for those.

<<page>>

## Cost

Fitting STL for one series on 4 weeks of 1-minute data takes 12 milliseconds. For 1 million
series refitted every 6 hours, this is about 0.6 CPU-hours per refit, affordable on the
existing query fleet.

## Next steps

Ship STL with robust z-score behind a feature flag for 20 design partners, measure the
share of anomaly alerts acknowledged as useful, and revisit the threshold of 4 after
8 weeks.
""",
        ("anomaly-detection", "alerting", "evaluation"),
    ),
    Doc(
        "research/query-latency-analysis.md",
        "Query Latency Analysis, Q2 2024",
        "Dr. Lena Fischer",
        date(2024, 7, 8),
        """
## Question

Why do dashboard queries feel slow, and where does the time go? We traced 1.2 million
dashboard queries over 7 days in June 2024 and split each into planning, fetching segments
from object storage, decoding and aggregation.

## Findings

- Median latency is 180 ms and p99 is 4.2 seconds.
- Fetching segments is 71 percent of the time at p99; aggregation is only 9 percent.
- 64 percent of fetched bytes belong to segments fetched again within 10 minutes by another
  query, mostly the same dashboard open in several browsers.
- Queries over more than 7 days at 15-second resolution read 40 times more data than the
  chart can display.

## Recommendations

- A shared segment cache of 200 GB per query node, which a replay of the traces predicts
  will cut p99 latency to 1.6 seconds.
- Automatic use of 1-minute rollups for ranges over 24 hours and 1-hour rollups over 30
  days.
- Coalescing identical queries issued within 2 seconds of each other.

## Follow-up

The segment cache shipped in August 2024; p99 latency in September was 1.9 seconds.
""",
        ("latency", "performance", "query"),
    ),
    Doc(
        "research/customer-interview-synthesis.docx",
        "Customer Interview Synthesis: Alerting",
        "Grace Liu",
        date(2024, 9, 30),
        """
## Study

We interviewed 18 customers between July and September 2024: 7 on Team, 8 on Business and 3
on Enterprise, mostly SRE leads and platform engineers. Each interview lasted 45 minutes and
followed the same guide on how they create, tune and respond to alerts.

## Theme 1: too many alerts

14 of 18 teams said they ignore some alerts routinely. The most common cause was alerts
created during an incident and never removed. Several asked for a report of rules that fired
often but were never acknowledged.

## Theme 2: ownership

11 teams could not tell who owned an alert rule. Customers asked for a required owner field
and for routing by service ownership rather than by channel.

## Theme 3: context in notifications

Responders want the chart, the recent deploys and the runbook link in the notification
itself, so they can decide from their phone whether to get up.

## Recommendations

- Add an "unused alerts" report listing rules acknowledged less than 10 percent of the time.
- Make the owner field required for new rules on Business and Enterprise.
- Add recent deploy events and a runbook URL field to notification payloads.
""",
        ("interviews", "alerting", "ux"),
    ),
    Doc(
        "research/alert-fatigue-survey.html",
        "Alert Fatigue Survey 2024",
        "Grace Liu",
        date(2024, 10, 21),
        """
## Who answered

240 on-call engineers at 96 customer organisations answered the survey in September 2024.
62 percent are on call at least one week a month.

## Headline numbers

- The median respondent receives 23 pages a week while on call.
- Respondents estimate that 41 percent of those pages need no action.
- 57 percent have silenced an alert without fixing its cause in the last month.
- Engineers who receive more than 30 pages a week rate their on-call experience 2.1 out of
  5; those with fewer than 10 rate it 3.9.

## What helps

Respondents who use escalation policies and weekly alert reviews report 35 percent fewer
pages needing no action. Teams that set a "for" duration of at least 5 minutes on noisy
rules report fewer night pages.

## Implications for Kestrel

The survey supports the unused alerts report proposed in the interview synthesis, and a
default "for" duration of 5 minutes, which Kestrel already uses for new rules.
""",
        ("survey", "alerting", "oncall"),
    ),
    Doc(
        "research/reading-notes-downsampling.txt",
        "Reading Notes: Downsampling Strategies",
        "Dr. Rahul Mehta",
        date(2023, 12, 4),
        """
## Why this matters

Charts show at most a few thousand points across, yet a 30-day range at 15 seconds holds
172,800 points per series. Downsampling decides what the chart shows when points are merged.

## Averages hide spikes

Plain averaging over buckets flattens short spikes: a 30-second CPU spike to 100 percent
becomes a bump to 51 percent in a 1-minute average and disappears in a 1-hour average. This
is why our rollups keep the minimum and maximum of each bucket as well as the average.

## Largest-Triangle-Three-Buckets

LTTB (Steinarsson, 2013) picks one real point per bucket, the one forming the largest
triangle with its neighbours' picks. It keeps the visual shape of a line very well, but the
picked values are not aggregates and must not be used for alerting.

## M4

M4 (Jugel and others, 2014) keeps the first, last, minimum and maximum point of each pixel
column and is provably pixel-perfect for line charts. It needs 4 points per pixel column.

## Our choice

We use M4 for line charts of raw data and min/max/avg rollups for long ranges. Alert rules
always query the raw data or the average rollup, never a visual downsampling.
""",
        ("downsampling", "visualisation", "notes"),
    ),
)
